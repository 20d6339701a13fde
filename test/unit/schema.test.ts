import { describe, expect, it } from "vitest";
import { compileSchema, schemaless, ValidationError, type SchemaDocument } from "../../src/schema.js";

const schema = {
  events: {
    signed_up: { customer: "required", properties: { sign_up_date: { type: "datetime", required: true }, plan: { type: "string", enum: ["free", "pro"] } } },
    share_social: { properties: { network: { type: "string", enum: ["x", "linkedin", "facebook"] } } },
    order: {
      properties: {
        total: { type: "number", required: true },
        gift: { type: "boolean" },
        day: { type: "date" },
        address: { type: "object" },
        items: { type: "array" },
      },
    },
    anything: { additional_properties: true, properties: { count: { type: "number" } } },
  },
} satisfies SchemaDocument;

const checker = compileSchema(schema);
const check = (event: unknown, metadata: unknown, identified = true, convert = false) => checker.check({ event, metadata, identified }, { convert });
const issues = (result: ReturnType<typeof check>) => (result.ok ? [] : result.issues);

describe("compileSchema refuses a malformed schema, naming the bad path", () => {
  it.each([
    [{}, "events"],
    [{ events: { a: { properties: { p: { type: "text" } } } } }, "events.a.properties.p.type"],
    [{ events: { a: { properties: { p: { type: "string", requird: true } } } } }, "events.a.properties.p.requird"],
    [{ events: { a: { customer: "yes" } } }, "events.a.customer"],
    [{ events: { a: { properties: { p: { type: "string", enum: [] } } } } }, "events.a.properties.p.enum"],
    [{ events: { [""]: {} } }, "events"],
    [{ events: { a: { properties: { p: { type: "number", enum: [1, "two"] } } } } }, "events.a.properties.p.enum.1"],
  ])("%j → %s", (document, path) => {
    let error: unknown;
    try {
      compileSchema(document);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((issue) => issue.path)).toContain(path);
    expect((error as ValidationError).message).toContain(path);
  });

  it("accepts notes beside events, such as $schema", () => {
    expect(compileSchema({ $schema: "x", version: 2, events: {} }).events).toEqual([]);
  });
});

describe("checking an event", () => {
  it("accepts a valid event and returns its metadata", () => {
    expect(check("signed_up", { sign_up_date: "2019-01-25T14:30:00.000Z", plan: "pro" })).toEqual({
      ok: true,
      metadata: { sign_up_date: "2019-01-25T14:30:00.000Z", plan: "pro" },
    });
  });

  it("rejects an event the schema does not name", () => {
    expect(issues(check("signed_upp", {}))).toEqual([{ path: "event", message: expect.stringContaining('"signed_upp" is not an event of the schema') }]);
  });

  it("rejects a missing required property", () => {
    expect(issues(check("signed_up", {}))).toEqual([{ path: "metadata.sign_up_date", message: expect.stringContaining("is required") }]);
  });

  it("rejects a wrong type, an enum miss and an unknown property, all at once", () => {
    const found = issues(check("signed_up", { sign_up_date: 5, plan: "gold", coupon: "X" }));
    expect(found.map((issue) => issue.path).sort()).toEqual(["metadata.coupon", "metadata.plan", "metadata.sign_up_date"]);
    expect(found.find((issue) => issue.path === "metadata.plan")?.message).toContain('Expected one of "free", "pro"');
    expect(found.find((issue) => issue.path === "metadata.coupon")?.message).toContain("is not a property of");
  });

  it("rejects customer-required events until identify, alongside metadata issues", () => {
    const found = issues(check("signed_up", {}, false));
    expect(found.map((issue) => issue.path)).toEqual(["customer", "metadata.sign_up_date"]);
    expect(found[0]?.message).toContain("identify()");
  });

  it.each([
    ["total", "12", 'Expected a number, but received: "12"'],
    ["total", Number.NaN, "number"],
    ["gift", "yes", "boolean"],
    ["day", "2026-02-30", "Expected a date as YYYY-MM-DD"],
    ["day", "26/11/2026", "Expected a date as YYYY-MM-DD"],
    ["address", [1], "Expected an object"],
    ["items", { a: 1 }, "array"],
  ])("checks the type of %s (%j)", (property, value, message) => {
    const found = issues(check("order", { total: 1, [property]: value }));
    expect(found).toHaveLength(1);
    expect(found[0]?.path).toBe(`metadata.${property}`);
    expect(found[0]?.message).toContain(message);
  });

  it("requires a time zone and a real calendar day on datetimes", () => {
    expect(issues(check("signed_up", { sign_up_date: "2019-01-25T14:30:00" }))[0]?.message).toContain("with a time zone");
    expect(issues(check("signed_up", { sign_up_date: "2019-02-30T10:00:00Z" }))[0]?.path).toBe("metadata.sign_up_date");
    expect(check("signed_up", { sign_up_date: "2019-01-25T14:30:00+02:00" }).ok).toBe(true);
  });

  it("lets additional_properties events carry unnamed JSON properties, still typing the named ones", () => {
    expect(check("anything", { count: 2, extra: { nested: [1, "a"] } }).ok).toBe(true);
    expect(issues(check("anything", { count: "2" }))[0]?.path).toBe("metadata.count");
    expect(issues(check("anything", { extra: () => 1 }))[0]).toEqual({ path: "metadata.extra", message: expect.stringContaining("JSON") });
  });

  it("counts nesting the same inside a typed object property as without a schema (at most 5 levels)", () => {
    const sixLevels = { a: { b: { c: { d: { e: 1 } } } } };
    const typed = compileSchema({ events: { e: { properties: { p: { type: "object" } } } } }).check({ event: "e", metadata: { p: sixLevels }, identified: true });
    const untyped = schemaless.check({ event: "e", metadata: { p: sixLevels }, identified: true });
    expect([typed.ok, untyped.ok]).toEqual([false, false]);
    expect(compileSchema({ events: { e: { properties: { p: { type: "object" } } } } }).check({ event: "e", metadata: { p: { a: { b: { c: { d: 1 } } } } }, identified: true }).ok).toBe(true);
  });

  it("rejects metadata that is not an object", () => {
    expect(issues(check("share_social", "x"))[0]).toEqual({ path: "metadata", message: expect.stringContaining("object") });
  });

  it("bounds event names to Voucherify's 1 to 300 characters", () => {
    expect(issues(schemaless.check({ event: "", metadata: {}, identified: false }))[0]?.path).toBe("event");
    expect(issues(schemaless.check({ event: "e".repeat(301), metadata: {}, identified: false }))[0]?.path).toBe("event");
    expect(schemaless.check({ event: "e".repeat(300), metadata: {}, identified: false }).ok).toBe(true);
  });
});

describe("converting attribute strings to the declared types", () => {
  it.each([
    ["total", "3", 3],
    ["total", " 2.5 ", 2.5],
    ["gift", "true", true],
    ["gift", "FALSE", false],
    ["day", "2026-11-26", "2026-11-26"],
    ["address", '{"city":"Oslo"}', { city: "Oslo" }],
    ["items", "[1,2]", [1, 2]],
  ])("%s: %j → %j", (property, raw, converted) => {
    const result = check("order", { total: "1", [property]: raw }, true, true);
    expect(result).toEqual({ ok: true, metadata: expect.objectContaining({ [property]: converted }) });
  });

  it("turns a parseable date-time into ISO 8601 UTC", () => {
    expect(check("signed_up", { sign_up_date: "2019-01-25T14:30:00Z" }, true, true)).toEqual({ ok: true, metadata: { sign_up_date: "2019-01-25T14:30:00.000Z" } });
  });

  it("reads a zone-less form datetime (datetime-local) as the visitor's local time, and nothing that is not ISO 8601", () => {
    const local = "2019-01-25T14:30";
    expect(check("signed_up", { sign_up_date: local }, true, true)).toEqual({ ok: true, metadata: { sign_up_date: new Date(local).toISOString() } });
    expect(issues(check("signed_up", { sign_up_date: "5" }, true, true))[0]?.message).toContain('"5"');
    expect(issues(check("signed_up", { sign_up_date: "Jan 25 2019" }, true, true))[0]?.path).toBe("metadata.sign_up_date");
  });

  it("names the original string when it does not convert", () => {
    const found = issues(check("order", { total: "three", gift: "maybe" }, true, true));
    expect(found.map((issue) => [issue.path, issue.message])).toEqual([
      ["metadata.total", expect.stringContaining('"three"')],
      ["metadata.gift", expect.stringContaining('"maybe"')],
    ]);
  });

  it("does not convert unless asked: track() callers get the type they passed checked", () => {
    expect(check("order", { total: "3" }).ok).toBe(false);
  });
});

describe("without a schema", () => {
  const loose = (metadata: unknown) => schemaless.check({ event: "anything", metadata, identified: false });

  it("accepts any event name with JSON metadata", () => {
    expect(loose({ a: [1, { b: null }], c: "x" })).toEqual({ ok: true, metadata: { a: [1, { b: null }], c: "x" } });
  });

  it.each([
    ["a function", { f: () => 1 }, "function"],
    ["a Date", { d: new Date(0) }, "plain object"],
    ["Infinity", { n: Number.POSITIVE_INFINITY }, "finite"],
    ["a 10,001-character string", { s: "x".repeat(10_001) }, "longer than 10000"],
    ["six levels of nesting", { a: { b: { c: { d: { e: { f: 1 } } } } } }, "deeper than 5"],
  ])("rejects %s", (_label, metadata, message) => {
    const result = loose(metadata);
    expect(result.ok).toBe(false);
    expect(issues(result)[0]?.message).toContain(message);
  });

  it("survives a cyclic object with an issue instead of a stack overflow", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(loose(cyclic).ok).toBe(false);
  });
});

describe("server events and once per customer (CONTRACT section 4)", () => {
  const flagged = compileSchema({
    events: {
      signed_up: { source: "server", once_per_customer: true, customer: "required", properties: { plan: { type: "string", required: true } } },
      share_social: { source: "browser" },
    },
  });

  it("refuses a server event from a browser, on the path event, saying where to send it from", () => {
    const result = flagged.check({ event: "signed_up", metadata: { plan: "pro" }, identified: true });
    expect(result).toEqual({ ok: false, issues: [{ path: "event", message: expect.stringContaining("send it from the site's server with reftrack/server") }] });
    expect(flagged.check({ event: "signed_up", metadata: { plan: "pro" }, identified: true }, { sender: "browser" }).ok).toBe(false);
  });

  it("accepts it from the server, still checking its metadata and customer", () => {
    expect(flagged.check({ event: "signed_up", metadata: { plan: "pro" }, identified: true }, { sender: "server" })).toEqual({ ok: true, metadata: { plan: "pro" } });
    const bad = flagged.check({ event: "signed_up", metadata: {}, identified: false }, { sender: "server" });
    expect(bad.ok ? [] : bad.issues.map((issue) => issue.path)).toEqual(["customer", "metadata.plan"]);
  });

  it("tells which events are once per customer, and browser events stay browser events", () => {
    expect([flagged.oncePerCustomer("signed_up"), flagged.oncePerCustomer("share_social"), flagged.oncePerCustomer("nope")]).toEqual([true, false, false]);
    expect(flagged.check({ event: "share_social", metadata: {}, identified: false }).ok).toBe(true);
    expect(schemaless.oncePerCustomer("signed_up")).toBe(false);
  });

  it("refuses flags of the wrong kind, naming them", () => {
    expect(() => compileSchema({ events: { a: { source: "site" } } })).toThrow(/events\.a\.source/);
    expect(() => compileSchema({ events: { a: { once_per_customer: "yes" } } })).toThrow(/events\.a\.once_per_customer/);
  });
});
