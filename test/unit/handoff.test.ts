// The browser's half of a server-confirmed conversion: the code reaches the site's server (cookie, hidden form
// field), and the browser itself can never claim a server event.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { compileSchema, defineSchema, ValidationError } from "../../src/schema.js";
import { memoryStore } from "../../src/storage.js";
import { clearCookies, setUrl, trackersPerTest } from "./harness.js";

const schema = defineSchema({
  events: {
    signed_up: { source: "server", once_per_customer: true, customer: "required", properties: { plan: { type: "string" } } },
    share_social: { properties: { network: { type: "string" } } },
  },
});

const start = trackersPerTest();
const t0 = Date.parse("2026-11-01T00:00:00Z");
const referralCookieValue = () => document.cookie.split("; ").find((pair) => pair.startsWith("reftrack_ref="))?.slice("reftrack_ref=".length) || undefined;

/** Submits a form as a visitor would, without leaving the test page. */
const submit = (form: HTMLFormElement | null) => {
  form?.addEventListener("submit", (event) => event.preventDefault(), { once: true });
  form?.requestSubmit();
};
const fields = (form: HTMLFormElement | null, name = "referral_code") => (form ? [...new FormData(form).getAll(name)] : []);

beforeEach(() => {
  clearCookies();
  localStorage.clear(); // a remembered consent choice would leak from one test into the next
  setUrl("https://site.example/?ref=NRY-01");
  document.body.innerHTML = "";
});
afterEach(() => vi.useRealTimers());

describe("a server event in the browser", () => {
  it("rejects at once with a ValidationError on the path event, and sends nothing", async () => {
    const { tracker, sent } = start({ schema });
    await tracker.identify({ source_id: "alex@domain.io" });
    // Typed schemas refuse it at compile time; a page's plain JavaScript gets here.
    const track = tracker.track as (name: string, metadata?: object) => Promise<{ id: string }>;
    const error = await track("signed_up", { plan: "pro" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([{ path: "event", message: expect.stringContaining("reftrack/server") }]);
    await tracker.track("share_social", { network: "x" });
    await tracker.flush();
    expect(sent.flatMap((request) => request.batch).map((event) => event.event)).toEqual(["share_social"]);
  });

  it("a tracked form of a server event is reported, not sent", async () => {
    const { tracker, sent, errors } = start({ schema });
    document.body.innerHTML = `<form data-track="signed_up"><button>Go</button></form>`;
    submit(document.querySelector("form"));
    await tracker.flush();
    expect(sent).toEqual([]);
    expect(errors.map((error) => error.message).join()).toContain("server event");
  });
});

describe("the referral cookie reftrack_ref", () => {
  it("is written host-only by default with the live referral, in the documented format", async () => {
    const { tracker } = start({}, { now: () => t0 });
    await tracker.flush();
    expect(referralCookieValue()).toBe("NRY-01|ref|2026-11-01T00%3A00%3A00.000Z|2026-12-01T00%3A00%3A00.000Z");
  });

  it("is not written with referralCookie: false (data-referral-cookie=\"false\")", async () => {
    const { tracker } = start({ referralCookie: false });
    await tracker.flush();
    expect(referralCookieValue()).toBeUndefined();
  });

  it("is not written until consent, and is deleted when the visitor declines", async () => {
    const { tracker } = start({ consent: "required" });
    await tracker.flush();
    expect(referralCookieValue()).toBeUndefined();
    await tracker.consent(true);
    expect(referralCookieValue()).toMatch(/^NRY-01\|/);
    await tracker.consent(false);
    expect(referralCookieValue()).toBeUndefined();
  });

  it("brings the referral back on a page whose IndexedDB lost it", async () => {
    const first = start({}, { now: () => t0 });
    await first.tracker.flush();
    setUrl("https://site.example/pricing");
    const { tracker, events } = start({}, { store: memoryStore(), now: () => t0 + 1000 });
    await tracker.track("e");
    await tracker.flush();
    expect(events()[0]?.referral).toEqual({ code: "NRY-01" });
  });
});

describe("<form data-track-referral>", () => {

  it("carries the current code in a hidden referral_code input when submitted, created once", async () => {
    const { tracker } = start();
    document.body.innerHTML = `<form data-track-referral><input name="email" value="a@b.io"></form>`;
    const form = document.querySelector("form");
    submit(form);
    expect(fields(form)).toEqual(["NRY-01"]);
    await tracker.flush();
    submit(form);
    submit(form);
    expect(fields(form)).toEqual(["NRY-01"]);
    expect(form?.querySelector("input[name=referral_code]")?.getAttribute("type")).toBe("hidden");
  });

  it("uses the attribute's value as the field name, and is never metadata of a tracked form", async () => {
    const { tracker, events } = start();
    document.body.innerHTML = `<form data-track="newsletter" data-track-referral="ref_code"></form>`;
    const form = document.querySelector("form");
    submit(form);
    await tracker.flush();
    expect(fields(form, "ref_code")).toEqual(["NRY-01"]);
    expect(fields(form)).toEqual([]);
    expect(events()[0]?.metadata).toEqual({});
  });

  it("holds \"\" without a referral, and the new code after an SPA navigation brings one", async () => {
    setUrl("https://site.example/");
    const { tracker } = start();
    document.body.innerHTML = `<form data-track-referral></form>`;
    const form = document.querySelector("form");
    await tracker.flush();
    expect(fields(form)).toEqual([""]);
    window.history.pushState({}, "", "/?via=SPA-2");
    await tracker.flush();
    expect(fields(form)).toEqual(["SPA-2"]);
  });

  it("leaves a field of the page's own with that name alone", async () => {
    const { tracker } = start();
    document.body.innerHTML = `<form data-track-referral><input name="referral_code" value="TYPED-BY-VISITOR"></form>`;
    const form = document.querySelector("form");
    await tracker.flush();
    submit(form);
    expect(fields(form)).toEqual(["TYPED-BY-VISITOR"]);
  });

  it("holds \"\" for a visitor who declined", async () => {
    const { tracker } = start();
    document.body.innerHTML = `<form data-track-referral></form>`;
    await tracker.consent(false);
    const form = document.querySelector("form");
    submit(form);
    expect(fields(form)).toEqual([""]);
  });
});

describe("<form data-track-referral> edge cases", () => {

  it("gives way when the page adds a field of its own with that name later, and follows a renamed attribute", async () => {
    const { tracker } = start();
    document.body.innerHTML = `<form data-track-referral></form>`;
    const form = document.querySelector("form");
    await tracker.flush();
    expect(fields(form)).toEqual(["NRY-01"]);
    form?.insertAdjacentHTML("beforeend", `<input name="referral_code" value="TYPED">`);
    submit(form);
    expect(fields(form)).toEqual(["TYPED"]);
    form?.setAttribute("data-track-referral", "ref");
    submit(form);
    expect([fields(form, "ref"), form?.querySelectorAll("[data-reftrack]").length]).toEqual([["NRY-01"], 1]);
  });

  it("empties its field in a form that stopped asking for one, once the visitor declines", async () => {
    const { tracker } = start();
    document.body.innerHTML = `<form data-track-referral></form>`;
    const form = document.querySelector("form");
    await tracker.flush();
    form?.removeAttribute("data-track-referral");
    await tracker.consent(false);
    expect(fields(form)).toEqual([""]);
  });
});

describe("messages that say what to do", () => {
  it("a missing required property names its declared type", () => {
    const checker = compileSchema({ events: { signed_up: { properties: { sign_up_date: { type: "datetime", required: true }, plan: { type: "string", enum: ["a"], required: true } } } } });
    const result = checker.check({ event: "signed_up", metadata: {}, identified: true });
    expect(result.ok ? [] : result.issues).toEqual([
      { path: "metadata.sign_up_date", message: "is required (datetime)" },
      { path: "metadata.plan", message: "is required (string)" },
    ]);
  });

  it("a data-track-identify form without marked fields says to mark them", async () => {
    const { tracker, errors, sent } = start();
    document.body.innerHTML = `<form data-track="joined" data-track-identify><input name="email" value="a@b.io"></form>`;
    submit(document.querySelector("form"));
    await tracker.flush();
    expect(sent).toEqual([]);
    expect(errors.map((error) => error.message).join()).toContain('mark the email input');
    expect(errors.map((error) => error.message).join()).toContain('data-track-field="email"');
  });

  it("a bad option of createTracker names the option, what it takes, what it got and what is used", () => {
    const { errors } = start({ batchSize: 0, flushMs: -1 });
    expect(errors[0]?.message).toContain("batchSize: must be a whole number from 1 to 500, got 0; using 20");
    expect(errors[0]?.message).toContain("flushMs: must be a whole number of milliseconds from 0 to 600000, got -1; using 2000");
  });
});
