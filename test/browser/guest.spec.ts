// A good guest on someone else's page: works under a strict Content-Security-Policy, adds no global but
// window.reftrack, changes no built-in prototype, and chains to the page's own history hooks.
import { readFileSync } from "node:fs";
import type { Page } from "@playwright/test";
import { collectorPerTest, startSite } from "./delivery-site.js";
import { expect, test } from "./fixtures.js";

const use = collectorPerTest();

const integrity = JSON.parse(readFileSync("dist/integrity.json", "utf8")) as { inlineStubCsp: string };
type Reftrack = { version?: string; track(name: string, metadata?: unknown): Promise<{ id: string }>; flush(): Promise<void> };

async function watchViolations(page: Page) {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { violations: string[] }).violations = seen;
    document.addEventListener("securitypolicyviolation", (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`));
  });
}
const violations = (page: Page) => page.evaluate(() => (window as unknown as { violations: string[] }).violations);

for (const stub of ["file", "inline"] as const) {
  test(`under script-src 'self' (stub ${stub === "file" ? "as dist/stub.js" : "inline, allowed by its hash"}): no violation, events delivered`, async ({ page }) => {
    const scripts = stub === "file" ? "'self'" : `'self' ${integrity.inlineStubCsp}`;
    const csp = `default-src 'none'; script-src ${scripts}; connect-src 'self' ${new URL(use.collector.url).origin}; img-src 'self'; style-src 'self'`;
    const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-schema": "/events.schema.json", "data-flush-ms": "100" }, { csp, stub }));
    await watchViolations(page);
    await page.goto(`${site.origin}/page.html?ref=CSP-1`);
    await page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
    await page.click("#button");
    await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.track("csp_event", { n: 1 }));
    await expect.poll(() => use.collector.ids.length, { timeout: 10_000 }).toBe(2);
    expect(await violations(page)).toEqual([]);
  });
}

test("the CSP test can fail: a policy without the stub's hash reports a violation", async ({ page }) => {
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url }, { csp: "script-src 'self'", stub: "inline" }));
  await watchViolations(page);
  await page.goto(`${site.origin}/page.html`);
  await expect.poll(() => violations(page)).toEqual([expect.stringContaining("script-src")]);
});

test("adds no global but window.reftrack and changes no built-in prototype", async ({ page }) => {
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url }));
  await page.addInitScript(() => {
    const snapshot = (target: object) => Object.getOwnPropertyNames(target).sort().join(",");
    const prototypes = { Object: Object.prototype, Array: Array.prototype, Function: Function.prototype, String: String.prototype, Promise: Promise.prototype, EventTarget: EventTarget.prototype, Element: Element.prototype, History: History.prototype };
    (window as unknown as { before: unknown }).before = {
      globals: Object.getOwnPropertyNames(window),
      prototypes: Object.fromEntries(Object.entries(prototypes).map(([name, proto]) => [name, snapshot(proto)])),
      take: () => ({ globals: Object.getOwnPropertyNames(window), prototypes: Object.fromEntries(Object.entries(prototypes).map(([name, proto]) => [name, snapshot(proto)])) }),
    };
  });
  await page.goto(`${site.origin}/page.html`);
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
  await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.track("e"));
  const { added, changed } = await page.evaluate(() => {
    const before = (window as unknown as { before: { globals: string[]; prototypes: Record<string, string>; take(): { globals: string[]; prototypes: Record<string, string> } } }).before;
    const after = before.take();
    return {
      added: after.globals.filter((name) => !before.globals.includes(name) && name !== "before"),
      changed: Object.keys(before.prototypes).filter((name) => before.prototypes[name] !== after.prototypes[name]),
    };
  });
  expect(added).toEqual(["reftrack"]);
  expect(changed).toEqual([]);
});

test("history hooks chain to the page's own, in either order, and capture an SPA referral", async ({ page }) => {
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-flush-ms": "100" }));
  await page.addInitScript(() => {
    // The page wraps pushState before reftrack loads...
    const calls: string[] = [];
    (window as unknown as { pageCalls: string[] }).pageCalls = calls;
    const original = history.pushState;
    history.pushState = function (...args: Parameters<History["pushState"]>) {
      calls.push(String(args[2]));
      return original.apply(this, args);
    };
  });
  await page.goto(`${site.origin}/page.html`);
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
  // ...and again after it.
  await page.evaluate(() => {
    const calls = (window as unknown as { pageCalls: string[] }).pageCalls;
    const current = history.pushState;
    history.pushState = function (...args: Parameters<History["pushState"]>) {
      calls.push(`late:${String(args[2])}`);
      return current.apply(this, args);
    };
    history.pushState({}, "", "/invite?ref=SPA-9");
  });
  await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.track("e"));
  expect(await page.evaluate(() => (window as unknown as { pageCalls: string[] }).pageCalls)).toEqual(["late:/invite?ref=SPA-9", "/invite?ref=SPA-9"]);
  expect(await page.evaluate(() => location.pathname)).toBe("/invite");
  expect(await page.evaluate(() => (window as unknown as { reftrack: { referral(): { code: string } | null } }).reftrack.referral()?.code)).toBe("SPA-9");
});
