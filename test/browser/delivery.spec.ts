// Nothing that track() resolved is lost (CONTRACT sections 6 and 7), in Chromium, counting ids at the endpoint.
// Each test reports the duplicates it saw on the wire; the endpoint removes them by id.
import type { Page } from "@playwright/test";
import { startCollector, startSite, type Collector, type Site } from "./delivery-site.js";
import { expect, test } from "./fixtures.js";

let collector: Collector;
let site: Site;

test.beforeEach(async () => {
  collector = await startCollector();
  site = await startSite({ "data-endpoint": collector.url, "data-flush-ms": "200" });
});
test.afterEach(async () => {
  console.log(`  [${test.info().title}] ids: ${collector.ids.length}, unique: ${new Set(collector.ids).size}, wire duplicates: ${collector.duplicates()}, requests: ${collector.requests.length}`);
  await Promise.all([collector.close(), site.close()]);
});

type Reftrack = { version?: string; track(name: string, metadata?: unknown): Promise<{ id: string }>; flush(): Promise<void> };

async function open(page: Page, path = "/page.html"): Promise<void> {
  await page.goto(`${site.origin}${path}`);
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
}

/** Tracks `count` events in the page at once; resolves with their ids once every track() has resolved. */
const track = (page: Page, count: number, name = "e") =>
  page.evaluate(
    ([count, name]) => Promise.all(Array.from({ length: count }, (_, n) => (window as unknown as { reftrack: Reftrack }).reftrack.track(name, { n }).then((result) => result.id))),
    [count, name] as const,
  );

async function expectDelivered(ids: string[], timeout = 15_000): Promise<void> {
  await expect.poll(() => ids.filter((id) => !collector.ids.includes(id)), { timeout, message: "ids not yet at the endpoint" }).toEqual([]);
}

test("the endpoint unreachable, then a reload, then the endpoint back: every id arrives", async ({ page }) => {
  await collector.down();
  await open(page);
  const ids = await track(page, 5);
  await page.waitForTimeout(500); // attempts fail on the network; the events wait in IndexedDB
  await page.reload();
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
  await collector.up();
  await expectDelivered(ids);
});

test("offline: nothing is attempted; back online, everything is sent", async ({ page, context }) => {
  await open(page);
  const attempts: string[] = [];
  page.on("request", (request) => {
    if (request.url() === collector.url) attempts.push(request.method());
  });
  await context.setOffline(true);
  const ids = await track(page, 3);
  await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.flush());
  await page.waitForTimeout(1000);
  expect(attempts).toEqual([]);
  await context.setOffline(false);
  await expectDelivered(ids);
});

test("503s then a 429 with Retry-After: retried with backoff, Retry-After waited out, every id arrives", async ({ page }) => {
  collector.answers.push({ status: 503 }, { status: 503 }, { status: 429, retryAfter: "2" });
  await open(page);
  const ids = await track(page, 3);
  await expectDelivered(ids, 20_000);
  expect(collector.requests).toHaveLength(4);
  const [, , third, fourth] = collector.requests;
  expect((fourth?.at ?? 0) - (third?.at ?? 0)).toBeGreaterThanOrEqual(1900); // the 2 s Retry-After, less clock rounding
});

test("100 events go out in a handful of requests", async ({ page }) => {
  await open(page);
  const ids = await track(page, 100);
  await expectDelivered(ids);
  expect(collector.requests.length).toBeLessThanOrEqual(6); // batches of 20
  expect(collector.duplicates()).toBe(0);
});

test("a tracked link that navigates away at once still delivers its event", async ({ page }) => {
  await open(page);
  await page.click("#away");
  await page.waitForURL("**/other.html");
  // The leaving page's keepalive request may arrive and the next page resend it (it could not see the answer):
  // a duplicate on the wire that the contract allows at unload, counted in the report line.
  await expect.poll(() => new Set(collector.ids).size, { timeout: 10_000 }).toBe(1);
});

test("a tab closed right after track() resolved: the event arrives (keepalive, or the next page load)", async ({ page, context }) => {
  collector.delayMs = 300;
  await open(page);
  const ids = await track(page, 3, "closing");
  await page.close();
  const byKeepalive = await expect
    .poll(() => ids.every((id) => collector.ids.includes(id)), { timeout: 3000 })
    .toBe(true)
    .then(() => true, () => false);
  if (!byKeepalive) {
    const next = await context.newPage();
    await open(next, "/other.html");
  }
  console.log(`  delivered by ${byKeepalive ? "the closing page's keepalive request" : "the next page load"}`);
  await expectDelivered(ids);
});

test("two tabs with a queue each: one sends at a time, every id arrives once", async ({ context }) => {
  collector.delayMs = 100;
  const [first, second] = [await context.newPage(), await context.newPage()];
  await Promise.all([open(first), open(second)]);
  const batches = await Promise.all([track(first, 30, "tab1"), track(second, 30, "tab2"), track(first, 30, "tab1"), track(second, 30, "tab2")]);
  const ids = batches.flat();
  await expectDelivered(ids);
  expect(collector.maxInFlight).toBe(1);
  // Each tab then goes to the background (a tab switch, not an unload): neither resends what the other delivered.
  for (const tab of [first, second]) {
    await tab.evaluate(() => {
      Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    });
  }
  await first.waitForTimeout(1000);
  expect(collector.duplicates()).toBe(0);
});

test("IndexedDB blocked: events still go out from memory, and the page is told once", async ({ page }) => {
  const warnings: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "warning") warnings.push(message.text());
  });
  await page.addInitScript(() => {
    IDBFactory.prototype.open = () => {
      throw new DOMException("The user denied permission to access the database.", "SecurityError");
    };
  });
  await open(page);
  const ids = await track(page, 5);
  await expectDelivered(ids);
  expect(warnings.filter((warning) => warning.includes("IndexedDB is unavailable"))).toHaveLength(1);
});
