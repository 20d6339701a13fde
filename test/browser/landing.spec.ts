// The small first file and the full tracker it loads when the page first tracks (issue 11): nothing made before the
// tracker is there is lost, even when the page navigates away at once; and the second file loads under every
// Content-Security-Policy the first one does.
import { readFileSync } from "node:fs";
import type { Page } from "@playwright/test";
import { collectorPerTest, startSite } from "./delivery-site.js";
import { expect, test } from "./fixtures.js";

const use = collectorPerTest();
type Reftrack = { version?: string; track(name: string, metadata?: unknown): Promise<{ id: string }>; flush(): Promise<void> };
const integrity = JSON.parse(readFileSync("dist/integrity.json", "utf8")) as Record<string, string>;
const fullFile = Object.keys(integrity).find((name) => /^reftrack\.[0-9a-f]{12}\.js$/.test(name)) ?? "";
const requested = (page: Page) => {
  const files: string[] = [];
  page.on("request", (request) => files.push(new URL(request.url()).pathname));
  return files;
};

test("a page view that only looks downloads the first file alone; the tracker arrives on the first tracked interaction", async ({ page }) => {
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-schema": "/events.schema.json" }));
  const files = requested(page);
  await page.goto(`${site.origin}/page.html?ref=LOOK-1`);
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
  await page.waitForTimeout(500);
  expect(files.filter((file) => file.endsWith(".js"))).toEqual(["/reftrack.js"]);
  // The referral is captured and stored before anything is deferred: the cookie at once, IndexedDB too.
  expect(await page.evaluate(() => document.cookie)).toContain("reftrack_ref=LOOK-1|ref|");
  await page.hover("#button");
  await page.dispatchEvent("#button", "pointerdown");
  await expect.poll(() => files).toContain(`/${fullFile}`);
});

test("a tracked form submitted within 50 ms of load, the schema answering after 3 s: the event is checked and delivered by the next page", async ({ page }) => {
  const site = (use.site = await startSite(
    { "data-endpoint": use.collector.url, "data-schema": "/events.schema.json", "data-flush-ms": "100" },
    { schemaDelayMs: 3000, body: `<form id="join" action="/other.html" data-track="joined" data-track-plan="pro"><button id="go">Join</button></form>` },
  ));
  await page.goto(`${site.origin}/page.html?ref=FAST-1`);
  await page.evaluate(() => (document.getElementById("join") as HTMLFormElement).requestSubmit());
  await page.waitForURL(`${site.origin}/other.html?`);
  await expect.poll(() => use.collector.events.map((event) => [event.event, event.metadata]), { timeout: 15_000 }).toEqual([["joined", { plan: "pro" }]]);
  expect(use.collector.events[0]?.context.page.url).toBe(`${site.origin}/page.html?ref=FAST-1`);
});

test("a form whose event fails the schema, submitted before the tracker is there, is checked too: refused, never sent", async ({ page }) => {
  const site = (use.site = await startSite(
    { "data-endpoint": use.collector.url, "data-schema": "/events.schema.json", "data-flush-ms": "100" },
    { body: `<form id="join" action="/other.html" data-track="joined" data-track-plan="enterprise"><button>Join</button></form>` },
  ));
  const warnings: string[] = [];
  page.on("console", (message) => void (message.type() === "warning" && warnings.push(message.text())));
  await page.goto(`${site.origin}/page.html`);
  await page.evaluate(() => (document.getElementById("join") as HTMLFormElement).requestSubmit());
  await page.waitForURL(`${site.origin}/other.html?`);
  await expect.poll(() => warnings.join("\n"), { timeout: 10_000 }).toContain("metadata.plan");
  await page.waitForTimeout(500);
  expect(use.collector.events).toEqual([]);
});

test("a tracked link clicked before anything deferred has arrived: delivered, with the time and page of the click", async ({ page }) => {
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-schema": "/events.schema.json", "data-flush-ms": "100" }, { schemaDelayMs: 1000 }));
  await page.route(`**/${fullFile}`, async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the tracker is slow to come on this page
    await route.continue();
  });
  await page.goto(`${site.origin}/page.html?ref=LINK-1`);
  const clickedAt = Date.now();
  await page.click("#away");
  await page.waitForURL(`${site.origin}/other.html`);
  await expect.poll(() => use.collector.events.map((event) => event.event), { timeout: 15_000 }).toEqual(["left_page"]);
  const [event] = use.collector.events;
  expect(event?.context.page.url).toBe(`${site.origin}/page.html?ref=LINK-1`);
  expect(Math.abs(Date.parse(event?.timestamp ?? "") - clickedAt)).toBeLessThan(1000);
});

for (const [label, policy] of [
  ["a nonce", (nonce: string) => `script-src 'nonce-${nonce}'`],
  ["'strict-dynamic'", (nonce: string) => `script-src 'nonce-${nonce}' 'strict-dynamic'`],
] as const) {
  test(`the second file loads under ${label}, pinned by its sha384; no violation`, async ({ page }) => {
    const nonce = "n0nce-for-this-test";
    const csp = `default-src 'none'; ${policy(nonce)}; connect-src 'self' ${new URL(use.collector.url).origin}; img-src 'self'`;
    const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-flush-ms": "100" }, { csp, nonce }));
    const violations: string[] = [];
    await page.exposeFunction("violation", (text: string) => void violations.push(text));
    await page.addInitScript(() => document.addEventListener("securitypolicyviolation", (event) => (window as unknown as { violation(text: string): void }).violation(`${event.violatedDirective} ${event.blockedURI}`)));
    await page.goto(`${site.origin}/page.html`);
    await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.track("e", { n: 1 }));
    await expect.poll(() => use.collector.ids.length, { timeout: 10_000 }).toBe(1);
    expect(violations).toEqual([]);
  });
}

test("the CSP test can fail: a second file whose content does not match its pinned sha384 is refused", async ({ page }) => {
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url }));
  await page.route(`**/${fullFile}`, (route) => route.fulfill({ contentType: "text/javascript", body: "window.tampered = true;" }));
  const warnings: string[] = [];
  page.on("console", (message) => void (message.type() === "warning" && warnings.push(message.text())));
  await page.goto(`${site.origin}/page.html`);
  const outcome = await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.track("e").then(() => "resolved", (error: Error) => error.message));
  expect(await page.evaluate(() => (window as unknown as { tampered?: boolean }).tampered)).toBeUndefined();
  // Kept in localStorage, the event is queued for good: it resolves, and waits for a tracker that loads.
  expect(outcome).toBe("resolved");
  expect(warnings.join()).toContain("could not load");
});
