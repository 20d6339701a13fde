import { afterEach, describe, expect, it, vi } from "vitest";
import { chooseReferral, findReferralCode, isLive, newReferral, watchNavigation, withoutParam } from "../../src/referral.js";
import { setUrl } from "./harness.js";

const PARAMS = ["ref", "referral", "referral_code", "via"];
const DAY = 86_400_000;

describe("findReferralCode", () => {
  it("reads the first configured parameter present", () => {
    expect(findReferralCode("https://site.example/?via=B&ref=NRY-01", PARAMS)).toEqual({ found: true, code: "NRY-01", param: "ref" });
    expect(findReferralCode("https://site.example/?via=B", PARAMS)).toEqual({ found: true, code: "B", param: "via" });
  });

  it("accepts 1 to 64 letters, digits, '-', '_' and '.'", () => {
    expect(findReferralCode(`https://s.example/?ref=a.B_c-9`, PARAMS)).toMatchObject({ found: true, code: "a.B_c-9" });
    expect(findReferralCode(`https://s.example/?ref=${"x".repeat(64)}`, PARAMS)).toMatchObject({ found: true });
  });

  it.each([
    ["markup", "%3Cscript%3Ealert(1)%3C%2Fscript%3E"],
    ["a space", "NRY%2001"],
    ["65 characters", "x".repeat(65)],
    ["an empty value", ""],
    ["an email address", "alex%40domain.io"],
  ])("ignores %s and reports it", (_label, value) => {
    const result = findReferralCode(`https://s.example/?ref=${value}`, PARAMS);
    expect(result.found).toBe(false);
    expect(result.found ? [] : result.ignored.map((item) => item.param)).toEqual(["ref"]);
  });

  it("skips an invalid value and takes a later valid parameter", () => {
    expect(findReferralCode("https://s.example/?ref=%3Cb%3E&via=OK", PARAMS)).toMatchObject({ found: true, code: "OK", param: "via" });
  });

  it("uses only the configured parameters", () => {
    expect(findReferralCode("https://s.example/?ref=A", ["partner"]).found).toBe(false);
    expect(findReferralCode("https://s.example/?partner=A", ["partner"])).toMatchObject({ found: true, code: "A" });
  });

  it("does not throw on a URL it cannot parse", () => {
    expect(findReferralCode("not a url", PARAMS)).toEqual({ found: false, ignored: [] });
  });
});

describe("attribution", () => {
  const t0 = Date.parse("2026-11-01T00:00:00Z");
  const first = newReferral("FIRST", "ref", "https://s.example/?ref=FIRST", t0, 30);
  const later = newReferral("LATER", "ref", "https://s.example/?ref=LATER", t0 + 5 * DAY, 30);

  it("records when the code was captured and when it expires", () => {
    expect(first).toEqual({
      code: "FIRST",
      param: "ref",
      captured_at: "2026-11-01T00:00:00.000Z",
      expires_at: "2026-12-01T00:00:00.000Z",
      landing_url: "https://s.example/?ref=FIRST",
    });
  });

  it("last: a newer code replaces the stored one", () => {
    expect(chooseReferral(first, later, "last", t0 + 5 * DAY)).toBe(later);
  });

  it("first: a live code is kept", () => {
    expect(chooseReferral(first, later, "first", t0 + 5 * DAY)).toBe(first);
  });

  it("first: an expired code is replaced", () => {
    const afterExpiry = newReferral("LATER", "ref", "u", t0 + 31 * DAY, 30);
    expect(chooseReferral(first, afterExpiry, "first", t0 + 31 * DAY)).toBe(afterExpiry);
  });

  it("a visit without a code keeps the stored one while it lives, and drops it after", () => {
    expect(chooseReferral(first, null, "last", t0 + 29 * DAY)).toBe(first);
    expect(chooseReferral(first, null, "last", t0 + 30 * DAY)).toBeNull();
    expect(isLive(first, t0 + 30 * DAY - 1)).toBe(true);
  });
});

describe("withoutParam", () => {
  it("removes only the referral parameter and keeps the hash", () => {
    expect(withoutParam("https://s.example/p?utm_source=x&ref=A#top", "ref")).toBe("https://s.example/p?utm_source=x#top");
  });
});

describe("watchNavigation", () => {
  afterEach(() => setUrl("http://localhost:3000/"));

  it("hears pushState, replaceState and popstate, keeps them working, and restores them", () => {
    const onNavigate = vi.fn();
    const originalPush = window.history.pushState;
    const stop = watchNavigation(window, onNavigate);
    window.history.pushState({}, "", "/a?ref=X");
    expect(window.location.pathname).toBe("/a");
    window.history.replaceState({}, "", "/b");
    window.dispatchEvent(new PopStateEvent("popstate"));
    expect(onNavigate).toHaveBeenCalledTimes(3);
    stop();
    expect(window.history.pushState).toBe(originalPush);
    window.history.pushState({}, "", "/c");
    expect(onNavigate).toHaveBeenCalledTimes(3);
  });

  it("installs one hook however many trackers listen, and restores the page's methods after the last", () => {
    const originalPush = window.history.pushState;
    const [first, second] = [vi.fn(), vi.fn()];
    const stopFirst = watchNavigation(window, first);
    const hooked = window.history.pushState;
    const stopSecond = watchNavigation(window, second);
    expect(window.history.pushState).toBe(hooked);
    window.history.pushState({}, "", "/a");
    expect([first.mock.calls.length, second.mock.calls.length]).toEqual([1, 1]);
    stopFirst();
    window.history.pushState({}, "", "/b");
    expect([first.mock.calls.length, second.mock.calls.length]).toEqual([1, 2]);
    stopSecond();
    expect(window.history.pushState).toBe(originalPush);
  });

  it("does not cut a chain the page built on top of the hook", () => {
    const originalPush = window.history.pushState;
    const stop = watchNavigation(window, vi.fn());
    const ours = window.history.pushState;
    const pageCalls: string[] = [];
    window.history.pushState = function (this: History, ...args: Parameters<History["pushState"]>) {
      pageCalls.push(String(args[2]));
      return ours.apply(this, args);
    };
    const pages = window.history.pushState;
    stop();
    expect(window.history.pushState).toBe(pages);
    window.history.pushState({}, "", "/d");
    expect(pageCalls).toEqual(["/d"]);
    expect(window.location.pathname).toBe("/d");
    window.history.pushState = originalPush;
  });
});
