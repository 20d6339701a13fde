// Checked by `npm run typecheck` (tsc): each @ts-expect-error fails the build if the error it expects goes away,
// so this file fails when a typed schema stops narrowing `track`.
import { createTracker, defineSchema } from "../../src/index.js";

const schema = defineSchema({
  events: {
    signed_up: { customer: "required", properties: { sign_up_date: { type: "datetime", required: true }, plan: { type: "string", enum: ["free", "pro"] } } },
    share_social: { properties: { network: { type: "string", enum: ["x", "linkedin", "facebook"] } } },
    order: { properties: { total: { type: "number", required: true }, gift: { type: "boolean" }, lines: { type: "array" } } },
    open: { additional_properties: true },
    subscribed: { source: "server", once_per_customer: true, customer: "required", properties: { plan: { type: "string" } } },
  },
});

export async function typedUse() {
  const tracker = createTracker({ endpoint: "/v1/batch", schema });
  await tracker.track("signed_up", { sign_up_date: "2019-01-25T14:30:00.000Z", plan: "pro" });
  await tracker.track("share_social");
  await tracker.track("share_social", { network: "x" });
  await tracker.track("order", { total: 3, gift: true, lines: [1, "a"] });
  await tracker.track("open", { anything: { nested: true } });

  // @ts-expect-error an event the schema does not name
  await tracker.track("signed_upp", {});
  // @ts-expect-error a required property is missing
  await tracker.track("signed_up", { plan: "pro" });
  // @ts-expect-error metadata is required when a property is
  await tracker.track("order");
  // @ts-expect-error not one of the enum's values
  await tracker.track("share_social", { network: "myspace" });
  // @ts-expect-error wrong type
  await tracker.track("order", { total: "3" });
  // @ts-expect-error a property the schema does not name
  await tracker.track("share_social", { network: "x", extra: 1 });
  // @ts-expect-error a server event: only reftrack/server sends it
  await tracker.track("subscribed", { plan: "pro" });

  const { id }: { id: string } = await tracker.track("share_social");
  return id;
}

export function typos() {
  // @ts-expect-error a misspelt key of a property ("requird")
  defineSchema({ events: { a: { properties: { p: { type: "string", requird: true } } } } });
  // @ts-expect-error a misspelt key of an event ("propertes")
  defineSchema({ events: { a: { propertes: {} } } });
  // Every key the format knows still compiles.
  defineSchema({ events: { a: { description: "d", customer: "required", source: "server", once_per_customer: true, additional_properties: true, properties: { p: { type: "number", required: true, enum: [1, 2], description: "p" } } } } });
}

export function badFlags() {
  // @ts-expect-error "source" is "browser" or "server"
  defineSchema({ events: { a: { source: "site" } } });
  // @ts-expect-error once_per_customer is a boolean
  defineSchema({ events: { a: { once_per_customer: "yes" } } });
}

export async function untypedUse(url: string) {
  // A schema loaded from a URL is not known at compile time: any name, JSON metadata.
  const tracker = createTracker({ endpoint: "/v1/batch", schema: url });
  await tracker.track("whatever", { a: [1, { b: null }] });
  await tracker.track("whatever");
  // @ts-expect-error metadata must be JSON
  await tracker.track("whatever", { when: new Date() });
  await tracker.identify({ source_id: "alex@domain.io", email: "alex@domain.io" });
  // @ts-expect-error source_id is required
  await tracker.identify({ email: "alex@domain.io" });
}
