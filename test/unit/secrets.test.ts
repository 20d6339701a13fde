// Issue 9, the browser half: no secret in a sent or stored URL, no secret field read, no customer in clear in debug
// lines, and partial rejections heard. Each test fails without its feature.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { memoryStore } from "../../src/storage.js";
import { mask } from "../../src/mask.js";
import { scrubUrl } from "../../src/page-url.js";
import { optionsFromAttributes, resolveSettings } from "../../src/options.js";
import type { WireEvent } from "../../src/event.js";
import { clearCookies, setUrl, trackersPerTest } from "./harness.js";

const start = trackersPerTest();

beforeEach(() => {
  clearCookies();
  document.body.innerHTML = "";
});
afterEach(() => {
  Reflect.deleteProperty(document, "referrer");
});

const setReferrer = (referrer: string) => Object.defineProperty(document, "referrer", { value: referrer, configurable: true });
const infoLines = (info: { mock: { calls: unknown[][] } }) => info.mock.calls.map((call) => JSON.stringify(call));

describe("page URLs keep origin, path, referral and utm_* parameters only", () => {
  const SECRET_URL = "https://user:hunter2@site.example/reset/confirm?ref=NRY-01&token=SECRET-1&utm_source=mail&lang=de&utm_campaign=spring#access_token=SECRET-2";

  it("context.page.url and the landing_url of referral() lose the token, the fragment and the userinfo", async () => {
    setUrl(SECRET_URL);
    const { tracker, sent, store } = start({}, { store: memoryStore() });
    await tracker.track("e");
    await tracker.flush();
    const clean = "https://site.example/reset/confirm?ref=NRY-01&utm_source=mail&utm_campaign=spring";
    expect(sent[0]?.batch[0]?.context.page).toMatchObject({ url: clean, path: "/reset/confirm" });
    expect(tracker.referral()).toMatchObject({ code: "NRY-01", landing_url: clean });
    expect(JSON.stringify(await store.get("referral"))).not.toMatch(/SECRET|hunter2|token/);
    expect(JSON.stringify(sent)).not.toMatch(/SECRET|hunter2|token|lang=de/);
  });

  it("keepParams (data-keep-params) keeps more, and the configured referral parameters are kept", async () => {
    setUrl("https://site.example/p?invite=NRY-02&lang=de&token=SECRET&utm_medium=email");
    const { tracker, events } = start({ referralParams: ["invite"], keepParams: ["lang"] });
    await tracker.track("e");
    await tracker.flush();
    expect(events()[0]?.context.page.url).toBe("https://site.example/p?invite=NRY-02&lang=de&utm_medium=email");
    expect(tracker.referral()?.landing_url).toBe("https://site.example/p?invite=NRY-02&lang=de&utm_medium=email");
  });

  it("the referrer is scrubbed alike, and one that is not a URL becomes empty", async () => {
    setUrl("https://site.example/");
    setReferrer("https://mail.example/inbox?session=SECRET#msg=1");
    const { tracker, events } = start();
    await tracker.track("a");
    setReferrer("not a url");
    await tracker.track("b");
    await tracker.flush();
    expect(events().map((event) => event.context.page.referrer)).toEqual(["https://mail.example/inbox", ""]);
  });

  it("scrubUrl: an address with nothing to keep has no '?' left", () => {
    expect(scrubUrl("https://a:b@site.example:8443/x/y?q=1#top", [])).toBe("https://site.example:8443/x/y");
    expect(scrubUrl("", [])).toBe("");
  });

  it("data-keep-params is read from the script tag and checked like data-referral-params", () => {
    const attributes: Record<string, string> = { "data-endpoint": "https://collect.example/v1/batch", "data-keep-params": "lang, page" };
    expect(resolveSettings(optionsFromAttributes((name) => attributes[name] ?? null), () => undefined).keepParams).toEqual(["lang", "page"]);
    const reported: Error[] = [];
    const settings = resolveSettings({ endpoint: "https://collect.example/v1/batch", keepParams: "a b<" }, (error) => void reported.push(error));
    expect(settings.keepParams).toEqual([]);
    expect(reported[0]?.message).toMatch(/keepParams: must be a comma list of query parameter names .*; using \[\]/);
  });
});

describe("secret fields are never read, even when marked", () => {
  const submit = () => document.querySelector("form")?.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));

  it.each([
    ['type="hidden"', `<input type="hidden" data-track-field="x" value="SECRET">`],
    ['autocomplete="cc-number"', `<input autocomplete="cc-number" data-track-field="x" value="SECRET">`],
    ['autocomplete="section-x billing cc-csc"', `<input autocomplete="section-x billing cc-csc" data-track-field="x" value="SECRET">`],
    ['autocomplete="CC-EXP"', `<select autocomplete="CC-EXP" data-track-field="x"><option value="SECRET" selected></option></select>`],
    ['autocomplete="one-time-code"', `<input autocomplete="one-time-code" inputmode="numeric" data-track-field="x" value="SECRET">`],
    ['autocomplete="new-password"', `<input autocomplete="new-password" data-track-field="x" value="SECRET">`],
    ['type="password"', `<input type="password" data-track-field="x" value="SECRET">`],
  ])("%s: skipped, and debug mode says why", async (why, field) => {
    const info = vi.spyOn(console, "info").mockImplementation(() => undefined);
    const { tracker, sent } = start({ debug: true });
    document.body.innerHTML = `<form data-track="f">${field}<textarea data-track-field="note">kept</textarea></form>`;
    submit();
    await tracker.flush();
    expect(sent.flatMap((request) => request.batch.map((event) => event.metadata))).toEqual([{ note: "kept" }]);
    expect(JSON.stringify(sent)).not.toContain("SECRET");
    expect(info).toHaveBeenCalledWith("[reftrack]", `field "x" skipped: ${why} is never read`, "");
  });

  it("a field whose autocomplete merely mentions a card is read", async () => {
    const { tracker, events } = start();
    document.body.innerHTML = `<form data-track="f"><input autocomplete="section-cc email" data-track-field="email" value="a@b.io"></form>`;
    submit();
    await tracker.flush();
    expect(events()[0]?.metadata).toEqual({ email: "a@b.io" });
  });
});

describe("debug lines mask customers' emails and names", () => {
  it("a queued event's customer, an email in metadata, and the identified line: none in clear", async () => {
    setUrl("https://site.example/u/alex.doe@domain.io?ref=NRY-01");
    const info = vi.spyOn(console, "info").mockImplementation(() => undefined);
    const { tracker, events } = start({ debug: true });
    await tracker.identify({ source_id: "alex.doe@domain.io", email: "alex.doe@domain.io", name: "Alex Doe" });
    await tracker.track("invited", { friend: "Invite sent to bo@mail.example.co.uk.", name: "Pro plan" });
    await tracker.flush();
    const lines = infoLines(info);
    expect(lines.join("\n")).not.toMatch(/alex\.doe|Alex Doe|bo@mail|domain\.io/);
    expect(lines).toContain(JSON.stringify(["[reftrack]", "identified a***@d***.io", ""]));
    const queued = info.mock.calls.find((call) => call[1] === "queued invited")?.[2] as WireEvent | undefined;
    expect(queued?.customer).toEqual({ source_id: "a***@d***.io", email: "a***@d***.io", name: "A*** D***" });
    expect(queued?.metadata).toEqual({ friend: "Invite sent to b***@m***.uk.", name: "Pro plan" });
    expect(queued?.context.page.url).toBe("https://site.example/u/a***@d***.io?ref=NRY-01");
    // Only the console is masked: the event itself goes out whole.
    expect(events()[0]?.customer).toEqual({ source_id: "alex.doe@domain.io", email: "alex.doe@domain.io", name: "Alex Doe" });
  });

  it("mask leaves what is not an email or a customer's name alone, and does not change its input", () => {
    const value = { customer: { name: "Ann", source_id: "u1" }, metadata: { name: "Ann", n: 1, ok: true, none: null, list: ["x@y.io", 2] } };
    const before = JSON.stringify(value);
    expect(mask(value)).toEqual({ customer: { name: "A***", source_id: "u1" }, metadata: { name: "Ann", n: 1, ok: true, none: null, list: ["x***@y***.io", 2] } });
    expect(JSON.stringify(value)).toBe(before);
    expect(mask('received: "jörg@straße.de"')).toBe('received: "j***@s***.de"');
  });
});

describe("partial rejections (a 2xx that lists rejected events)", () => {
  beforeEach(() => setUrl("https://site.example/"));

  /** A collector answering each POST with the next body (status 200), and recording the ids it was sent. */
  function answering(...bodies: (string | ((ids: string[]) => string))[]) {
    const ids: string[][] = [];
    const fetch = vi.fn(async (_input: RequestInfo | URL, init: RequestInit = {}) => {
      if (init.method !== "POST") return new Response("", { status: 404 });
      const batch = (JSON.parse(String(init.body)) as { batch: WireEvent[] }).batch.map((event) => event.id);
      ids.push(batch);
      const body = bodies.shift() ?? "{}";
      return new Response(typeof body === "string" ? body : body(batch), { status: 200 });
    });
    return { fetch: fetch as unknown as typeof globalThis.fetch, ids };
  }

  const rejecting = (batch: string[]) =>
    JSON.stringify({
      accepted: 2,
      duplicates: 0,
      rejected: [{ id: batch[1], issues: [{ path: "metadata.network", message: "Expected one of `x`, `linkedin`, but received: \"myspace\"" }] }],
      warnings: [{ id: batch[0], message: "customer fields dropped" }],
    });

  it("onError hears one error naming the rejected id and its issues; the events are not sent again", async () => {
    const info = vi.spyOn(console, "info").mockImplementation(() => undefined);
    const collector = answering(rejecting);
    const { tracker, errors } = start({ debug: true }, { fetch: collector.fetch });
    const sent = await Promise.all(["a", "b", "c"].map((name) => tracker.track(name)));
    await tracker.flush();
    await tracker.track("d");
    await tracker.flush();
    const rejectedId = sent[1]?.id ?? "";
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toBe(`The endpoint rejected 1 of 3 event(s): ${rejectedId}: metadata.network: Expected one of \`x\`, \`linkedin\`, but received: "myspace"`);
    expect(errors[0]).toMatchObject({ rejected: [{ id: rejectedId, issues: [{ path: "metadata.network" }] }] });
    expect(collector.ids).toEqual([sent.map((result) => result.id), [expect.any(String)]]);
    expect(infoLines(info).some((line) => line.includes("batch of 3 → 200 (delivered 2, rejected 1)"))).toBe(true);
  });

  it.each([
    ["an empty body", ""],
    ["a body that is not JSON", "<html>ok</html>"],
    ["JSON of another shape", JSON.stringify({ rejected: "none" })],
    ["JSON null", "null"],
  ])("a 2xx with %s is simply delivered", async (_, body) => {
    const collector = answering(body);
    const { tracker, errors } = start({}, { fetch: collector.fetch });
    await tracker.track("a");
    await tracker.flush();
    await tracker.flush();
    expect(errors).toEqual([]);
    expect(collector.ids).toHaveLength(1);
  });
});

describe("scrubUrl and referral parameters", () => {
  it("keeps a referral parameter only when its value is a code, and nothing of a URL that is not http(s)", () => {
    const jwt = `eyJ${"a".repeat(80)}.eyJ${"b".repeat(40)}.sig`;
    expect(scrubUrl(`https://site.example/p?ref=${jwt}&via=alex@domain.io&utm_source=m&x=1`, [], ["ref", "via"])).toBe("https://site.example/p?utm_source=m");
    expect(scrubUrl("https://site.example/p?ref=NRY-01&x=1", [], ["ref"])).toBe("https://site.example/p?ref=NRY-01");
    expect(scrubUrl("data:text/html,<p>alex@domain.io</p>", [], ["ref"])).toBe("");
    expect(scrubUrl("blob:https://site.example/0f1e", [], [])).toBe("");
  });
});
