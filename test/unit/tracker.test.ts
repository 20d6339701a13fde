import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ValidationError, defineSchema } from "../../src/schema.js";
import { browserStore, memoryStore } from "../../src/storage.js";
import { clearCookies, setUrl, startTracker, trackersPerTest } from "./harness.js";
import { memoryOutbox } from "../../src/outbox.js";

const schema = defineSchema({
  events: {
    signed_up: { customer: "required", properties: { plan: { type: "string", enum: ["free", "pro"], required: true }, seats: { type: "number" } } },
    share_social: { properties: { network: { type: "string", enum: ["x", "linkedin"], required: true } } },
  },
});

const DAY = 86_400_000;
const start = trackersPerTest();

beforeEach(() => {
  clearCookies();
  setUrl("https://site.example/?ref=NRY-01");
  document.body.innerHTML = "";
});
afterEach(() => {
  vi.useRealTimers();
});

describe("track", () => {
  it("sends the event of CONTRACT section 6 with the referral and an anonymous customer", async () => {
    const { tracker, events } = start({ schema });
    const { id } = await tracker.track("share_social", { network: "x" });
    await tracker.flush();
    const [event] = events();
    expect(event).toEqual({
      id,
      event: "share_social",
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      customer: { source_id: `anon_${event?.anonymous_id}` },
      metadata: { network: "x" },
      referral: { code: "NRY-01" },
      anonymous_id: expect.any(String),
      context: {
        page: { url: "https://site.example/?ref=NRY-01", path: "/", referrer: "", title: "" },
        library: { name: "reftrack", version: expect.any(String) },
      },
    });
  });

  it("posts as text/plain, so a cross-origin endpoint needs no preflight", async () => {
    const { tracker, sent } = start();
    await tracker.track("anything");
    await tracker.flush();
    expect(sent[0]?.url).toBe("https://collect.example/v1/batch");
    expect(new Headers(sent[0]?.init.headers).get("content-type")).toMatch(/^text\/plain/);
    expect(JSON.parse(String(sent[0]?.init.body))).toMatchObject({ sent_at: expect.any(String), batch: [expect.any(Object)] });
  });

  it("rejects an invalid event with every issue, and sends nothing", async () => {
    const { tracker, fetch } = start({ schema });
    const rejection = tracker.track("signed_up", { plan: "gold", seats: "2" } as never);
    await expect(rejection).rejects.toBeInstanceOf(ValidationError);
    await expect(rejection).rejects.toMatchObject({
      issues: [
        { path: "customer", message: expect.any(String) },
        { path: "metadata.plan", message: expect.stringContaining("Expected one of") },
        { path: "metadata.seats", message: expect.stringContaining("number") },
      ],
    });
    await tracker.flush();
    expect(fetch.mock.calls.filter(([, init]) => init?.method === "POST")).toHaveLength(0);
  });

  it("sends the event as it was when tracked, whatever the page does to the object afterwards", async () => {
    const { tracker, events } = start();
    const metadata: Record<string, unknown> = { network: "x" };
    await tracker.track("share", metadata as never);
    metadata.network = "<img src=x onerror=alert(1)>";
    metadata.self = metadata;
    await tracker.flush();
    expect(events()[0]?.metadata).toEqual({ network: "x" });
  });

  it("rejects an event over 32 KB as JSON, saying how large it is", async () => {
    const { tracker } = start();
    const big = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, "x".repeat(7000)]));
    await expect(tracker.track("big", big)).rejects.toMatchObject({ issues: [{ message: expect.stringMatching(/is \d+ bytes as JSON, over the limit of 32768/) }] });
  });

  it("does not hold later commands while a flush waits on the network", async () => {
    const { tracker, fetch } = start();
    fetch.mockImplementation(() => new Promise<Response>(() => undefined)); // an endpoint that never answers
    await tracker.track("a");
    void tracker.flush();
    await expect(tracker.track("b")).resolves.toHaveProperty("id");
  });

  it("gives every event its own id", async () => {
    const { tracker } = start();
    const ids = await Promise.all(Array.from({ length: 50 }, () => tracker.track("e").then((result) => result.id)));
    expect(new Set(ids).size).toBe(50);
  });

  it("sends a batch when batchSize events wait, and the rest after flushMs", async () => {
    vi.useFakeTimers();
    const { tracker, sent } = start({ batchSize: 3, flushMs: 1000 });
    const firstThree = [0, 1, 2].map((i) => tracker.track("e", { i }));
    await vi.advanceTimersByTimeAsync(0);
    await Promise.all(firstThree);
    expect(sent.map((request) => request.batch.length)).toEqual([3]);
    const fourth = tracker.track("e", { i: 3 });
    await vi.advanceTimersByTimeAsync(0);
    await fourth;
    await vi.advanceTimersByTimeAsync(999);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent.map((request) => request.batch.map((event) => event.metadata.i))).toEqual([[0, 1, 2], [3]]);
  });

  it("loads a schema from a URL before checking the events tracked meanwhile", async () => {
    const { tracker } = start({ schema: "https://site.example/events.schema.json" }, { pages: { "https://site.example/events.schema.json": () => Response.json(schema) } });
    await expect(tracker.track("share_social", { network: "myspace" } as never)).rejects.toThrow(/metadata\.network/);
  });

  it("reports a schema URL it cannot load, and still checks events as JSON", async () => {
    const { tracker, errors } = start({ schema: "https://site.example/missing.json" });
    await expect(tracker.track("share_social", { network: "myspace" } as never)).resolves.toHaveProperty("id");
    expect(errors.map((error) => error.message)).toEqual([expect.stringContaining("HTTP 404")]);
  });

  it("throws at once for a malformed schema object, naming the path", () => {
    expect(() => start({ schema: { events: { a: { properties: { p: { type: "text" } } } } } as never })).toThrow(/events\.a\.properties\.p\.type/);
    // Nothing of the failed start is left listening: another tab's consent later throws nothing into the page. Nor
    // after a start that fails later, when cleaning the URL throws (Safari past its replaceState rate limit).
    const replaceState = vi.spyOn(history, "replaceState").mockImplementation(() => {
      throw new DOMException("Attempt to use history.replaceState() more than 100 times per 10 seconds", "SecurityError");
    });
    expect(() => start({ cleanUrl: true })).toThrow(/replaceState/);
    replaceState.mockRestore();
    const thrown: unknown[] = [];
    const onError = (event: ErrorEvent) => void thrown.push(event.error);
    window.addEventListener("error", onError);
    window.dispatchEvent(new StorageEvent("storage", { key: "reftrack:consent", newValue: JSON.stringify("denied") }));
    window.removeEventListener("error", onError);
    expect(thrown).toEqual([]);
  });
});

describe("identity", () => {
  it("identify sets the customer of later events and keeps it across page loads", async () => {
    const store = memoryStore();
    const first = start({ schema }, { store });
    await expect(first.tracker.track("signed_up", { plan: "pro" })).rejects.toThrow(/identify/);
    await first.tracker.identify({ source_id: "alex@domain.io", email: "alex@domain.io", name: "Alex Doe" });
    await first.tracker.track("signed_up", { plan: "pro" });
    first.tracker.destroy();
    const second = start({ schema }, { store });
    await second.tracker.track("signed_up", { plan: "free" });
    await first.tracker.flush();
    await second.tracker.flush();
    expect([...first.events(), ...second.events()].map((event) => event.customer)).toEqual([
      { source_id: "alex@domain.io", email: "alex@domain.io", name: "Alex Doe" },
      { source_id: "alex@domain.io", email: "alex@domain.io", name: "Alex Doe" },
    ]);
  });

  it("rejects a malformed customer", async () => {
    const { tracker } = start();
    await expect(tracker.identify({ source_id: "", email: "nope" })).rejects.toMatchObject({
      issues: [{ path: "customer.source_id" }, { path: "customer.email" }],
    });
  });

  it("keeps the anonymous id across loads, and reset starts a new one and forgets the customer", async () => {
    const store = memoryStore();
    const first = start({}, { store });
    await first.tracker.identify({ source_id: "u1" });
    await first.tracker.track("a");
    const second = start({}, { store });
    await second.tracker.track("b");
    await second.tracker.reset();
    await second.tracker.track("c");
    await first.tracker.flush();
    await second.tracker.flush();
    const [a, b, c] = [...first.events(), ...second.events()];
    expect(b?.anonymous_id).toBe(a?.anonymous_id);
    expect(c?.anonymous_id).not.toBe(a?.anonymous_id);
    expect(c?.customer).toEqual({ source_id: `anon_${c?.anonymous_id}` });
    expect(c?.referral).toEqual({ code: "NRY-01" });
  });
});

describe("referral capture and attribution", () => {
  const t0 = Date.parse("2026-11-01T00:00:00Z");

  const visit = async (url: string, options: Parameters<typeof startTracker>[0], store = memoryStore(), now = t0) => {
    setUrl(url);
    const started = start(options, { store, now: () => now });
    await started.tracker.track("e");
    await started.tracker.flush();
    return { referral: started.events()[0]?.referral ?? null, api: started.tracker.referral(), store };
  };

  it("keeps the code across later pages without it", async () => {
    const { store } = await visit("https://site.example/?ref=NRY-01", {});
    expect((await visit("https://site.example/pricing", {}, store)).referral).toEqual({ code: "NRY-01" });
  });

  it("last (default): a newer code replaces the old one", async () => {
    const { store } = await visit("https://site.example/?ref=OLD", {});
    expect((await visit("https://site.example/?via=NEW", {}, store)).referral).toEqual({ code: "NEW" });
  });

  it("first: the first code stays until it expires", async () => {
    const { store } = await visit("https://site.example/?ref=OLD", { attribution: "first" });
    expect((await visit("https://site.example/?ref=NEW", { attribution: "first" }, store, t0 + 10 * DAY)).referral).toEqual({ code: "OLD" });
    expect((await visit("https://site.example/?ref=NEW", { attribution: "first" }, store, t0 + 31 * DAY)).referral).toEqual({ code: "NEW" });
  });

  it("stops attaching a code after attributionDays", async () => {
    const { store } = await visit("https://site.example/?ref=NRY-01", { attributionDays: 7 });
    const inside = await visit("https://site.example/", { attributionDays: 7 }, store, t0 + 7 * DAY - 1);
    expect(inside.referral).toEqual({ code: "NRY-01" });
    expect(inside.api).toMatchObject({ code: "NRY-01", param: "ref", landing_url: "https://site.example/?ref=NRY-01" });
    const after = await visit("https://site.example/", { attributionDays: 7 }, store, t0 + 7 * DAY);
    expect(after.referral).toBeNull();
    expect(after.api).toBeNull();
  });

  it("ignores an invalid code, and logs it in debug mode", async () => {
    const info = vi.spyOn(console, "info").mockImplementation(() => undefined);
    const result = await visit("https://site.example/?ref=%3Cimg%20src%3Dx%3E", { debug: true });
    expect(result.referral).toBeNull();
    expect(info.mock.calls.some((call) => String(call[1]).includes("ignored ?ref="))).toBe(true);
  });

  it("cleanUrl removes the parameter from the address bar after capture", async () => {
    const result = await visit("https://site.example/p?ref=NRY-01&utm_source=mail#x", { cleanUrl: true });
    expect(result.referral).toEqual({ code: "NRY-01" });
    expect(window.location.href).toBe("https://site.example/p?utm_source=mail#x");
  });

  it("referral() shows a code from the URL, or from pushState/replaceState, as soon as the call returns", async () => {
    const { tracker } = start();
    expect(tracker.referral()?.code).toBe("NRY-01");
    window.history.pushState({}, "", "/invite?ref=SPA-9");
    expect(tracker.referral()?.code).toBe("SPA-9");
    window.history.replaceState({}, "", "/invite?via=SPA-10");
    expect(tracker.referral()?.code).toBe("SPA-10");
    await tracker.flush();
    expect(tracker.referral()?.code).toBe("SPA-10");
  });

  it("referral() under first-touch keeps the first code through an SPA navigation, before and after state is read", async () => {
    const { tracker } = start({ attribution: "first" });
    window.history.pushState({}, "", "/invite?ref=LATER");
    expect(tracker.referral()?.code).toBe("NRY-01");
    await tracker.flush();
    expect(tracker.referral()?.code).toBe("NRY-01");
  });

  it("captures a code that arrives through a single-page-app navigation, even one replaced at once", async () => {
    setUrl("https://site.example/");
    const { tracker, events } = start();
    window.history.pushState({}, "", "/invite?ref=SPA-7");
    window.history.replaceState({}, "", "/invite");
    await tracker.track("e");
    await tracker.flush();
    expect(events()[0]?.referral).toEqual({ code: "SPA-7" });
  });
});

describe("elements", () => {
  it("tracks a click on a data-track element added after start, converting by schema type", async () => {
    const { tracker, events } = start({ schema: defineSchema({ events: { clicked: { properties: { count: { type: "number" }, on: { type: "boolean" }, sign_up_date: { type: "date" } } } } }) });
    document.body.innerHTML = `<div><button data-track="clicked" data-track-count="3" data-track-on="true" data-track-sign-up-date="2019-01-25"><span>Go</span></button></div>`;
    document.querySelector("span")?.click();
    await tracker.flush();
    expect(events().map((event) => event.metadata)).toEqual([{ count: 3, on: true, sign_up_date: "2019-01-25" }]);
  });

  it("is not hidden by a page handler that stops propagation", async () => {
    const { tracker, events } = start();
    document.body.innerHTML = `<button data-track="clicked">Go</button>`;
    document.querySelector("button")?.addEventListener("click", (event) => event.stopPropagation());
    document.body.addEventListener("click", (event) => event.stopImmediatePropagation(), true);
    document.querySelector("button")?.click();
    await tracker.flush();
    expect(events().map((event) => event.event)).toEqual(["clicked"]);
  });

  it("identifies from a data-track-identify form and tracks its marked fields, never the password", async () => {
    const { tracker, events, sent } = start({ schema });
    document.body.innerHTML = `
      <form data-track="signed_up" data-track-identify>
        <input name="email" data-track-field="email" value="alex@domain.io">
        <input name="name" data-track-field="name" value="Alex Doe">
        <input type="password" name="password" data-track-field="password" value="hunter2">
        <input name="seats" data-track-field="seats" value="4">
        <select name="plan" data-track-field="plan"><option value="pro" selected>Pro</option></select>
        <input name="unmarked" value="secret-too">
      </form>`;
    const form = document.querySelector("form");
    form?.addEventListener("submit", (event) => event.preventDefault());
    form?.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    await tracker.flush();
    expect(events()).toMatchObject([
      { event: "signed_up", customer: { source_id: "alex@domain.io", email: "alex@domain.io", name: "Alex Doe" }, metadata: { plan: "pro", seats: 4 } },
    ]);
    expect(JSON.stringify(sent)).not.toMatch(/hunter2|secret-too/);
  });

  // An unhandled rejection would fail this run (vitest reports them as errors); the browser tests watch the page too.
  it("reports a failing element event to onError, never to the page", async () => {
    const { tracker, errors } = start({ schema });
    document.body.innerHTML = `<button data-track="share_social" data-track-network="myspace">Share</button>`;
    expect(() => document.querySelector("button")?.click()).not.toThrow();
    await tracker.flush();
    expect(errors).toEqual([expect.any(ValidationError)]);
    expect(errors[0]?.message).toContain("metadata.network");
  });

  it("does not send a form's event as somebody else when the form's customer is invalid", async () => {
    const { tracker, errors, events } = start();
    await tracker.identify({ source_id: "previous-user" });
    document.body.innerHTML = `<form data-track="signed_up" data-track-identify><input data-track-field="email" value="not-an-email"></form>`;
    document.querySelector("form")?.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    await tracker.flush();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(events()).toEqual([]);
    expect(errors.map((error) => error.message)).toEqual([expect.stringContaining("customer.email")]);
  });

  it("never reads a password, even one a 'show password' toggle made type=text, nor a file input", async () => {
    const { tracker, sent } = start();
    document.body.innerHTML = `<form data-track="f">
      <input type="text" autocomplete="current-password" data-track-field="pw" value="hunter2">
      <input type="file" data-track-field="upload">
      <input data-track-field="ok" value="yes"></form>`;
    document.querySelector("form")?.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    await tracker.flush();
    expect(sent.flatMap((request) => request.batch.map((event) => event.metadata))).toEqual([{ ok: "yes" }]);
  });

  it("uses the configured attribute prefix", async () => {
    const { tracker, events } = start({ attrPrefix: "data-rt" });
    document.body.innerHTML = `<a data-rt="clicked" data-rt-where="nav" data-track="other">Go</a>`;
    document.querySelector("a")?.click();
    await tracker.flush();
    expect(events().map((event) => [event.event, event.metadata])).toEqual([["clicked", { where: "nav" }]]);
  });
});

describe("storage failures", () => {
  it("keeps working in memory where IndexedDB is blocked, and says so once", async () => {
    const errors: Error[] = [];
    const blocked = vi.spyOn(indexedDB, "open").mockImplementation(() => {
      throw new DOMException("The user denied permission to access the database.", "SecurityError");
    });
    const { tracker, events } = start({ onError: (error) => void errors.push(error) }, { store: undefined, outbox: undefined });
    await tracker.identify({ source_id: "u1" });
    await tracker.track("e");
    await tracker.flush();
    expect(blocked).toHaveBeenCalled();
    expect(events()).toMatchObject([{ event: "e", customer: { source_id: "u1" }, referral: { code: "NRY-01" } }]);
    expect(errors).toEqual([expect.objectContaining({ message: expect.stringContaining("in memory") })]);
  });

  it("persists state in IndexedDB (fake-indexeddb) across trackers", async () => {
    const first = start({}, { store: browserStore("reftrack-persist", "state", () => undefined) });
    await first.tracker.track("e");
    first.tracker.destroy();
    setUrl("https://site.example/later");
    const second = start({}, { store: browserStore("reftrack-persist", "state", () => undefined) });
    await second.tracker.track("e");
    await first.tracker.flush();
    await second.tracker.flush();
    expect(second.tracker.referral()?.code).toBe("NRY-01");
    expect(second.events()[0]?.anonymous_id).toBe(first.events()[0]?.anonymous_id);
  });
});

describe("a page that goes away before an event reaches the outbox", () => {
  const KEPT = "reftrack:pending:https://collect.example/v1/batch";
  const never = (() => new Promise<Response>(() => undefined)) as typeof globalThis.fetch;
  beforeEach(() => localStorage.clear());

  it("keeps the event for the next page, which sends it with the same id, time and page, and then forgets it", async () => {
    const leaving = start({ schema: "https://site.example/schema.json" }, { fetch: never });
    void leaving.tracker.track("share_social", { network: "x" });
    const madeAt = Date.now();
    window.dispatchEvent(new Event("pagehide"));
    const kept = JSON.parse(localStorage.getItem(KEPT) ?? "[]") as { id: string; kind: string }[];
    expect(kept).toMatchObject([{ kind: "track", name: "share_social", metadata: { network: "x" }, page: { url: "https://site.example/?ref=NRY-01" } }]);
    expect(document.cookie).toContain("reftrack_pending=1");
    leaving.tracker.destroy();

    setUrl("https://site.example/next");
    const next = start();
    await next.tracker.flush();
    await vi.waitFor(() => expect(next.events()).toHaveLength(1));
    const [event] = next.events();
    expect(event).toMatchObject({ id: kept[0]?.id, event: "share_social", metadata: { network: "x" }, context: { page: { url: "https://site.example/?ref=NRY-01" } } });
    expect(Math.abs(Date.parse(event?.timestamp ?? "") - madeAt)).toBeLessThan(1000);
    await vi.waitFor(() => expect(localStorage.getItem(KEPT)).toBeNull());
    expect(document.cookie).not.toContain("reftrack_pending=1");
  });

  it("keeps a tracked form's event waiting behind its identify, and a first file's page leaves the taking-in to the first file", async () => {
    document.body.innerHTML = `<form data-track="joined" data-track-identify><input name="email" data-track-field="email" value="sam@domain.io"></form>`;
    const leaving = start({ schema: "https://site.example/schema.json" }, { fetch: never });
    document.querySelector("form")?.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    window.dispatchEvent(new Event("pagehide"));
    expect(JSON.parse(localStorage.getItem(KEPT) ?? "[]")).toMatchObject([{ kind: "element", action: { name: "joined", customer: { source_id: "sam@domain.io" } } }]);
    leaving.tracker.destroy();

    const handedOver = start({}, { keptTakenIn: true });
    await handedOver.tracker.flush();
    expect(handedOver.events()).toEqual([]);
    expect(localStorage.getItem(KEPT)).not.toBeNull();
  });

  it("keeps an identify and a reset with the events around them, in order, so no event is replayed as someone else's", async () => {
    const leaving = start({ schema: "https://site.example/schema.json" }, { fetch: never });
    void leaving.tracker.identify({ source_id: "u2" });
    void leaving.tracker.track("share_social", { network: "x" });
    void leaving.tracker.reset();
    void leaving.tracker.track("share_social", { network: "linkedin" });
    window.dispatchEvent(new Event("pagehide"));
    expect((JSON.parse(localStorage.getItem(KEPT) ?? "[]") as { kind: string; command?: string }[]).map((entry) => entry.command ?? entry.kind)).toEqual(["identify", "track", "reset", "track"]);
    leaving.tracker.destroy();

    const next = start();
    await next.tracker.flush();
    await vi.waitFor(() => expect(next.events()).toHaveLength(2));
    expect(next.events().map((event) => [event.metadata.network, event.customer.source_id === "u2"])).toEqual([["x", true], ["linkedin", false]]);
  });

  it("keeps what fits beside what is kept already, the earliest first, and says how many are lost; nothing kept is pushed out", () => {
    const earlier = Array.from({ length: 98 }, (_, n) => ({ kind: "call", id: `earlier-${n}`, command: "flush", args: [], at: 1 }));
    localStorage.setItem(KEPT, JSON.stringify(earlier));
    const leaving = start({ schema: "https://site.example/schema.json" }, { fetch: never, keptTakenIn: true });
    for (const network of ["x", "linkedin", "facebook"]) void leaving.tracker.track("share_social", { network });
    window.dispatchEvent(new Event("pagehide"));
    const kept = JSON.parse(localStorage.getItem(KEPT) ?? "[]") as { id: string; metadata?: { network: string } }[];
    expect(kept).toHaveLength(100);
    expect(kept.slice(0, 98).map((entry) => entry.id)).toEqual(earlier.map((entry) => entry.id));
    expect(kept.slice(98).map((entry) => entry.metadata?.network)).toEqual(["x", "linkedin"]);
    expect(leaving.errors.map((error) => error.message)).toEqual([expect.stringMatching(/^1 command\(s\) .* could not be kept in localStorage .*100 commands kept already/)]);
  });

  it("keeps nothing for a page that is only hidden, and takes back what it kept when it comes back from the back-forward cache", () => {
    const page = start({ schema: "https://site.example/schema.json" }, { fetch: never });
    void page.tracker.track("share_social", { network: "x" });
    Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
    Object.defineProperty(document, "visibilityState", { value: "visible", configurable: true });
    expect(localStorage.getItem(KEPT)).toBeNull();
    window.dispatchEvent(new Event("pagehide"));
    expect(localStorage.getItem(KEPT)).not.toBeNull();
    window.dispatchEvent(Object.assign(new Event("pageshow"), { persisted: true }));
    expect(localStorage.getItem(KEPT)).toBeNull();
  });

  it("keeps nothing once the visitor declined in another tab, and keeps what follows an Accept at once", async () => {
    const declined = start({ schema: "https://site.example/schema.json" }, { fetch: never });
    void declined.tracker.track("share_social", { network: "x" }).catch(() => undefined);
    window.dispatchEvent(new StorageEvent("storage", { key: "reftrack:consent", newValue: JSON.stringify("denied") }));
    window.dispatchEvent(new Event("pagehide"));
    expect(localStorage.getItem(KEPT)).toBeNull();
    declined.tracker.destroy();

    clearCookies();
    localStorage.clear();
    const accepting = start({ consent: "required", schema: "https://site.example/schema.json" }, { fetch: never });
    void accepting.tracker.consent(true);
    void accepting.tracker.track("share_social", { network: "x" });
    window.dispatchEvent(new Event("pagehide"));
    expect(JSON.parse(localStorage.getItem(KEPT) ?? "[]")).toMatchObject([{ kind: "track", name: "share_social" }]);
  });

  it("keeps the events it can: one JSON cannot hold, or one far over the size limit, does not cost the others", () => {
    const page = start({ schema: "https://site.example/schema.json" }, { fetch: never });
    void page.tracker.track("share_social", { network: 1n } as unknown as { network: "x" }).catch(() => undefined);
    void page.tracker.track("share_social", { network: "x".repeat(200_000) } as unknown as { network: "x" }).catch(() => undefined);
    void page.tracker.track("share_social", { network: "x" });
    window.dispatchEvent(new Event("pagehide"));
    expect(JSON.parse(localStorage.getItem(KEPT) ?? "[]")).toMatchObject([{ kind: "track", metadata: { network: "x" } }]);
  });

  it("keeps an event whose outbox write has not committed; the next page sends it once, even if that write did commit", async () => {
    // An outbox whose writes land but are never confirmed: a page torn down in the middle of its commit.
    const landed = memoryOutbox({ maxEvents: 1000, maxBytes: 1_000_000, onDropped: () => undefined });
    const tornDown = {
      ...landed,
      add: (entries: Parameters<typeof landed.add>[0]) => {
        void landed.add(entries);
        return new Promise<void>(() => undefined);
      },
    };
    const leaving = start({}, { outbox: tornDown, fetch: never });
    void leaving.tracker.track("share_social", { network: "x" });
    await vi.waitFor(async () => expect(await landed.count()).toBe(1));
    window.dispatchEvent(new Event("pagehide"));
    expect(JSON.parse(localStorage.getItem(KEPT) ?? "[]")).toMatchObject([{ kind: "track", name: "share_social" }]);
    leaving.tracker.destroy();

    const next = start({}, { outbox: landed });
    await vi.waitFor(() => expect(localStorage.getItem(KEPT)).toBeNull());
    await next.tracker.flush();
    expect(next.events().map((event) => event.event)).toEqual(["share_social"]);
  });

  it("keeps what it holds when Chromium freezes the tab (no pagehide before a discard), and takes it back on resume", () => {
    const page = start({ schema: "https://site.example/schema.json" }, { fetch: never });
    void page.tracker.track("share_social", { network: "x" });
    document.dispatchEvent(new Event("freeze"));
    expect(JSON.parse(localStorage.getItem(KEPT) ?? "[]")).toHaveLength(1);
    document.dispatchEvent(new Event("resume"));
    expect(localStorage.getItem(KEPT)).toBeNull();
  });

  it("a page that leaves right after an Accept sends what waited for it", async () => {
    const posted: string[] = [];
    const fetch = ((_: unknown, init: RequestInit = {}) => {
      if (init.method === "POST") posted.push(String(init.body));
      return new Promise<Response>(() => undefined);
    }) as typeof globalThis.fetch;
    const page = start({ consent: "required" }, { fetch });
    await page.tracker.track("share_social", { network: "x" });
    void page.tracker.consent(true);
    window.dispatchEvent(new Event("pagehide")); // before the grant has had its turn
    expect(posted).toHaveLength(1);
    expect(posted[0]).toContain("share_social");
  });

  it("keeps nothing while consent is pending, and nothing of an event that reached the outbox", async () => {
    const pending = start({ consent: "required", schema: "https://site.example/schema.json" }, { fetch: never });
    void pending.tracker.track("share_social", { network: "x" }).catch(() => undefined);
    window.dispatchEvent(new Event("pagehide"));
    expect(localStorage.getItem(KEPT)).toBeNull();
    pending.tracker.destroy();

    const queued = start();
    await queued.tracker.track("share_social", { network: "x" });
    window.dispatchEvent(new Event("pagehide"));
    expect(localStorage.getItem(KEPT)).toBeNull();
  });
});

describe("destinations", () => {
  it("never drain one destination's outbox to another (a site that moves endpoints, the demo's direct page)", async () => {
    const oldEndpoint = start({ endpoint: "https://old.example/v1/batch" }, { outbox: undefined, lock: undefined, statuses: Array(20).fill(503) });
    await oldEndpoint.tracker.track("queued_for_old");
    oldEndpoint.tracker.destroy();
    const newEndpoint = start({ endpoint: "https://new.example/v1/batch" }, { outbox: undefined, lock: undefined });
    await newEndpoint.tracker.track("queued_for_new");
    await newEndpoint.tracker.flush();
    expect(newEndpoint.sent.map((request) => [request.url, request.batch.map((event) => event.event)])).toEqual([["https://new.example/v1/batch", ["queued_for_new"]]]);
  });
});

describe("a site's onError that throws", () => {
  it("does not stop delivery, and nothing reaches the page", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const { tracker, events } = start({ onError: () => { throw new Error("bug in the site's handler"); } }, { statuses: [422] });
    await tracker.track("refused");
    await tracker.flush();
    await tracker.track("later");
    await tracker.flush();
    expect(events().map((event) => event.event)).toEqual(["refused", "later"]);
    expect(warn).toHaveBeenCalledWith("[reftrack] onError threw", expect.any(Error));
  });
});

describe("settings", () => {
  it("falls back to the default for a bad optional setting and reports it", async () => {
    const { tracker, errors, sent } = start({ batchSize: 0 });
    expect(errors[0]?.message).toMatch(/batchSize/);
    await tracker.track("e");
    await tracker.flush();
    expect(sent).toHaveLength(1);
  });

  it("refuses to start without an endpoint, unless Voucherify's client credentials are given", () => {
    expect(() => start({ endpoint: "" })).toThrow(/endpoint/);
    expect(() => start({ endpoint: undefined, voucherifyAppId: "app-1" })).toThrow(/voucherifyClientToken/);
    expect(() => start({ endpoint: undefined, voucherifyAppId: "app-1", voucherifyClientToken: "t", voucherifyApi: "not a url" })).toThrow(/voucherifyApi/);
  });

  it("sends straight to Voucherify's client API when its credentials replace the endpoint", async () => {
    const { tracker, fetch } = start({ endpoint: undefined, voucherifyAppId: "app-1", voucherifyClientToken: "client-1", voucherifyApi: "https://api.eu1.voucherify.io" });
    await tracker.track("share_social", { network: "x" });
    await tracker.flush();
    const [url, init] = fetch.mock.calls.find(([, init]) => init?.method === "POST") ?? [];
    expect(url).toBe("https://api.eu1.voucherify.io/client/v1/events");
    expect(init?.headers).toMatchObject({ "X-Client-Application-Id": "app-1", "X-Client-Token": "client-1" });
    expect(JSON.parse(String(init?.body))).toEqual({ event: "share_social", customer: { source_id: expect.stringMatching(/^anon_/) }, metadata: { network: "x" }, referral: { code: "NRY-01" } });
  });
});
