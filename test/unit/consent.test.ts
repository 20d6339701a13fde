import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConsentError, initialConsent } from "../../src/consent.js";
import { expiredReferralCookie, readReferralCookie, referralCookie } from "../../src/cookie.js";
import { newReferral } from "../../src/referral.js";
import { memoryOutbox } from "../../src/outbox.js";
import { memoryStore } from "../../src/storage.js";
import { clearCookies, setUrl, startTracker, trackersPerTest } from "./harness.js";

const posts = (fetch: ReturnType<typeof startTracker>["fetch"]) => fetch.mock.calls.filter(([, init]) => init?.method === "POST");
const start = trackersPerTest();

beforeEach(() => {
  setUrl("https://site.example/?ref=NRY-01");
  localStorage.clear();
  clearCookies(); // the consent cookie too: one test's choice must not be the next one's
});
afterEach(() => {
  Object.defineProperty(navigator, "globalPrivacyControl", { value: undefined, configurable: true });
});

describe("the initial state", () => {
  const site = { consent: "not-required" as const, respectGpc: true };
  it.each([
    [{ ...site }, null, {}, "granted"],
    [{ ...site, consent: "required" as const }, null, {}, "pending"],
    [{ ...site }, null, { globalPrivacyControl: true }, "denied"],
    [{ ...site }, null, { doNotTrack: "1" }, "denied"],
    [{ ...site, respectGpc: false }, null, { globalPrivacyControl: true }, "granted"],
    [{ ...site }, "granted" as const, { globalPrivacyControl: true }, "granted"],
    [{ ...site, consent: "required" as const }, "denied" as const, {}, "denied"],
  ])("%j, choice %s, signals %j → %s", (settings, choice, signals, state) => {
    expect(initialConsent(settings, choice, signals)).toBe(state);
  });
});

describe("data-consent=required", () => {
  it("keeps everything in memory (IndexedDB never opened, nothing sent) until consent(true), then sends what waited", async () => {
    const open = vi.spyOn(indexedDB, "open");
    const { tracker, fetch, events } = start({ consent: "required" }, { store: undefined, outbox: undefined });
    await tracker.track("before_consent");
    await tracker.flush();
    expect(posts(fetch)).toHaveLength(0);
    expect(open).not.toHaveBeenCalled();
    expect(tracker.referral()?.code).toBe("NRY-01");
    await tracker.consent(true);
    await tracker.flush();
    expect(events().map((event) => [event.event, event.referral])).toEqual([["before_consent", { code: "NRY-01" }]]);
    expect(open).toHaveBeenCalled();
    expect(localStorage.getItem("reftrack:consent")).toBe('"granted"');
  });

  it("remembers the choice: the next page load stores and sends at once", async () => {
    const first = start({ consent: "required" });
    await first.tracker.consent(true);
    const second = start({ consent: "required" });
    await second.tracker.track("e");
    await second.tracker.flush();
    expect(second.events().map((event) => event.event)).toEqual(["e"]);
  });

  it("consent(false) deletes what is stored and queued, sends nothing, and rejects later events", async () => {
    const store = memoryStore();
    const outbox = memoryOutbox({ maxEvents: 1000, maxBytes: 1_000_000, onDropped: () => undefined });
    const granted = start({}, { store, outbox, statuses: [503] });
    await granted.tracker.identify({ source_id: "alex@domain.io" });
    await granted.tracker.track("queued");
    await granted.tracker.flush(); // 503: the event stays queued
    await granted.tracker.consent(false);
    expect(await outbox.count()).toBe(0);
    expect([await store.get("customer"), await store.get("referral"), await store.get("anonymous_id")]).toEqual([undefined, undefined, undefined]);
    await expect(granted.tracker.track("after")).rejects.toBeInstanceOf(ConsentError);
    const later = start({}, { store, outbox });
    await expect(later.tracker.track("next_visit")).rejects.toBeInstanceOf(ConsentError);
    await later.tracker.flush();
    expect(posts(later.fetch)).toHaveLength(0);
  });
});

describe("consent, the hard cases", () => {
  it("a refusal in any copy wins: the cookie's or the first file's over a grant left in localStorage, which is brought in line", async () => {
    localStorage.setItem("reftrack:consent", '"granted"');
    document.cookie = "reftrack_consent=denied; Path=/";
    const fromCookie = start({});
    await expect(fromCookie.tracker.track("e")).rejects.toBeInstanceOf(ConsentError);
    await fromCookie.tracker.flush();
    expect(posts(fromCookie.fetch)).toHaveLength(0);
    expect(localStorage.getItem("reftrack:consent")).toBe('"denied"');
    fromCookie.tracker.destroy();

    localStorage.setItem("reftrack:consent", '"granted"');
    clearCookies();
    const fromFirstFile = start({}, { choice: "denied" });
    await expect(fromFirstFile.tracker.track("e")).rejects.toBeInstanceOf(ConsentError);
    expect(document.cookie).toContain("reftrack_consent=denied");
  });

  it("consent(false) records the refusal at once, not after the commands before it (the schema's loading, stored state)", async () => {
    const declined = start({});
    void declined.tracker.consent(false);
    // Synchronously: the page may go away the next moment.
    expect(localStorage.getItem("reftrack:consent")).toBe('"denied"');
    expect(document.cookie).toContain("reftrack_consent=denied");
    await expect(declined.tracker.track("e")).rejects.toBeInstanceOf(ConsentError);
  });

  it("an event tracked in the same tick as consent(true) is delivered, not left in memory", async () => {
    // Storage as slow as IndexedDB: the event's write lands while consent's copy into storage is still running.
    const slow = memoryOutbox({ maxEvents: 1000, maxBytes: 1_000_000, onDropped: () => undefined });
    const add = slow.add.bind(slow);
    slow.add = async (entries) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return add(entries);
    };
    const { tracker, events } = start({ consent: "required" }, { outbox: slow });
    const tracked = tracker.track("with_the_banner_click");
    const agreed = tracker.consent(true);
    await Promise.all([tracked, agreed]);
    await tracker.flush();
    expect(events().map((event) => event.event)).toEqual(["with_the_banner_click"]);
  });

  it("an unreadable consent setting falls back to required, never to tracking", async () => {
    const { tracker, fetch, errors } = start({ consent: "Required " as never });
    await tracker.track("e");
    await tracker.flush();
    expect(posts(fetch)).toHaveLength(0);
    expect(errors[0]?.message).toContain("consent");
  });

  it("only a boolean is a choice: consent('false') is refused, not read as yes", async () => {
    const { tracker, fetch } = start({ consent: "required" });
    await expect(tracker.consent("false" as never)).rejects.toMatchObject({ issues: [{ path: "consent" }] });
    await tracker.track("e");
    await tracker.flush();
    expect(posts(fetch)).toHaveLength(0);
  });

  it("declining forgets the anonymous id and the shared send state; agreeing later starts afresh", async () => {
    const { tracker, events } = start({}, { statuses: [503] });
    await tracker.track("first");
    await tracker.flush();
    expect(Object.keys(localStorage).some((key) => key.startsWith("reftrack:send:"))).toBe(true);
    const before = (await tracker.track("second").then(() => tracker.flush()), events()[0]?.anonymous_id);
    await tracker.consent(false);
    expect(Object.keys(localStorage).filter((key) => key.startsWith("reftrack:send:"))).toEqual([]);
    await tracker.consent(true);
    await tracker.track("third");
    await tracker.flush();
    const third = events().find((event) => event.event === "third");
    expect(third?.anonymous_id).not.toBe(before);
  });

  it("a choice made in another tab applies here too", async () => {
    const { tracker, fetch } = start();
    window.dispatchEvent(new StorageEvent("storage", { key: "reftrack:consent", newValue: '"denied"' }));
    await expect(tracker.track("e")).rejects.toBeInstanceOf(ConsentError);
    window.dispatchEvent(new StorageEvent("storage", { key: "reftrack:consent", newValue: "not json" }));
    await tracker.flush();
    expect(posts(fetch)).toHaveLength(0);
  });
});

describe("privacy signals", () => {
  it("Global Privacy Control means no tracking by default, until the visitor explicitly agrees", async () => {
    Object.defineProperty(navigator, "globalPrivacyControl", { value: true, configurable: true });
    const { tracker, events } = start();
    await expect(tracker.track("e")).rejects.toBeInstanceOf(ConsentError);
    expect(tracker.referral()).toBeNull();
    await tracker.consent(true);
    await tracker.track("agreed");
    await tracker.flush();
    expect(events().map((event) => event.event)).toEqual(["agreed"]);
  });

  it("a site may choose not to honour it (data-respect-gpc=false)", async () => {
    Object.defineProperty(navigator, "globalPrivacyControl", { value: true, configurable: true });
    const { tracker, events } = start({ respectGpc: false });
    await tracker.track("e");
    await tracker.flush();
    expect(events()).toHaveLength(1);
  });
});

describe("the referral cookie", () => {
  const now = Date.parse("2026-11-01T00:00:00Z");
  const referral = newReferral("NRY-01", "ref", "https://www.example.com/?ref=NRY-01&email=alex@domain.io", now, 30);

  it("lives as long as the window, on the parent domain, Lax, Secure on https, with no URL in it", () => {
    const cookie = referralCookie(referral, { domain: ".example.com", secure: true }, now);
    expect(cookie).toMatch(/^reftrack_ref=NRY-01\|ref\|[^;]+; Domain=\.example\.com; Path=\/; SameSite=Lax; Secure; Max-Age=2592000$/);
    expect(cookie).not.toContain("email");
    expect(referralCookie(referral, { domain: ".example.com", secure: false }, now)).not.toContain("Secure");
    expect(expiredReferralCookie({ domain: ".example.com", secure: false })).toContain("Max-Age=0");
  });

  it("is host-only without a cookie domain, and its value is the documented four percent-encoded fields", () => {
    const cookie = referralCookie(referral, { secure: false }, now);
    expect(cookie).toBe("reftrack_ref=NRY-01|ref|2026-11-01T00%3A00%3A00.000Z|2026-12-01T00%3A00%3A00.000Z; Path=/; SameSite=Lax; Max-Age=2592000");
    expect(expiredReferralCookie({ secure: true })).toBe("reftrack_ref=; Path=/; SameSite=Lax; Secure; Max-Age=0");
  });

  it("reads back what it wrote, and nothing expired, malformed or hostile", () => {
    const value = referralCookie(referral, { domain: ".example.com", secure: false }, now).split(";")[0] ?? "";
    expect(readReferralCookie(`other=1; ${value}`, now + 1000, 30)).toEqual({ ...referral, landing_url: "" });
    expect(readReferralCookie(value, now + 31 * 86_400_000, 30)).toBeNull();
    expect(readReferralCookie("reftrack_ref=%3Cimg%3E|ref|2026-11-01T00:00:00Z|2026-11-20T00:00:00Z", now + 1000, 30)).toBeNull();
    expect(readReferralCookie("reftrack_ref=%E0%A4%A|x|y|z", now, 30)).toBeNull();
    expect(readReferralCookie("reftrack_ref=A|ref|nope|2026-11-20T00:00:00Z", now, 30)).toBeNull();
  });

  it("trusts no sibling subdomain's times: no expiry beyond the window, no capture in the future; a bad cookie is skipped", () => {
    const value = referralCookie(referral, { domain: ".example.com", secure: false }, now).split(";")[0] ?? "";
    expect(readReferralCookie("reftrack_ref=A|ref|2026-11-01T00:00:00Z|9999-01-01T00:00:00Z", now + 1000, 30)).toBeNull();
    expect(readReferralCookie("reftrack_ref=A|ref|2027-01-01T00:00:00Z|2027-01-02T00:00:00Z", now, 30)).toBeNull();
    expect(readReferralCookie(`reftrack_ref=%E0%A4%A|x|y|z; ${value}`, now + 1000, 30)?.code).toBe("NRY-01");
    // A host-only cookie and a parent-domain one: the latest capture wins, whichever comes first in the header.
    const newer = "reftrack_ref=NEW|ref|2026-11-02T00%3A00%3A00.000Z|2026-11-20T00%3A00%3A00.000Z";
    expect(readReferralCookie(`${value}; ${newer}`, now + 2 * 86_400_000, 30)?.code).toBe("NEW");
    expect(readReferralCookie(`${newer}; ${value}`, now + 2 * 86_400_000, 30)?.code).toBe("NEW");
  });
});
