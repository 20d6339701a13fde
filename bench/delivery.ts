// Delivery figures in Chromium: track() → queued latency, outbox write rate, requests and bytes per event, and how
// long 1,000 queued events take to drain after reconnecting. Bundled by bench/run.mjs and run with node.
import { chromium, type Page } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../test/browser/chromium.js";
import { startCollector, startSite } from "../test/browser/delivery-site.js";

type Reftrack = { version?: string; track(name: string, metadata?: unknown): Promise<{ id: string }> };

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
const round = (value: number, digits = 2) => Number(value.toFixed(digits));

async function until(condition: () => boolean, timeoutMs = 120_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function ready(page: Page, url: string) {
  await page.goto(url);
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
}

const collector = await startCollector();
const site = await startSite({ "data-endpoint": collector.url });
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  await ready(page, `${site.origin}/page.html`);

  // 1. track() → queued (resolved after the IndexedDB commit), one at a time.
  const latencies = await page.evaluate(async () => {
    const reftrack = (window as unknown as { reftrack: Reftrack }).reftrack;
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const start = performance.now();
      await reftrack.track("latency", { i, plan: "pro" });
      times.push(performance.now() - start);
    }
    return times.sort((a, b) => a - b);
  });
  await until(() => collector.ids.length >= 200);

  // 2. Events per second into the outbox: 1,000 tracked at once.
  const burst = await page.evaluate(async () => {
    const reftrack = (window as unknown as { reftrack: Reftrack }).reftrack;
    const start = performance.now();
    await Promise.all(Array.from({ length: 1000 }, (_, i) => reftrack.track("burst", { i })));
    return performance.now() - start;
  });
  await until(() => collector.ids.length >= 1200);

  // 3 and 4. Requests and bytes on the wire for 100 events, default settings (batches of 20).
  const before = { requests: collector.requests.length, bytes: collector.requests.reduce((sum, r) => sum + r.bytes, 0), ids: collector.ids.length };
  await page.evaluate(() => Promise.all(Array.from({ length: 100 }, (_, i) => (window as unknown as { reftrack: Reftrack }).reftrack.track("share_social", { network: "x", i }))));
  await until(() => collector.ids.length >= before.ids + 100);
  const requestsPer100 = collector.requests.length - before.requests;
  const bytesPerEvent = (collector.requests.reduce((sum, r) => sum + r.bytes, 0) - before.bytes) / 100;

  // 5. Drain 1,000 events queued while offline, from reconnect to the last one received.
  await context.setOffline(true);
  await page.evaluate(() => Promise.all(Array.from({ length: 1000 }, (_, i) => (window as unknown as { reftrack: Reftrack }).reftrack.track("offline", { i }))));
  const queuedIds = collector.ids.length;
  const reconnect = Date.now();
  await context.setOffline(false);
  await until(() => collector.ids.length >= queuedIds + 1000);
  const drainMs = Date.now() - reconnect;

  console.log("delivery in Chromium (dist/reftrack.js, default settings)");
  console.log(`  track() → queued, median      ${round(quantile(latencies, 0.5))} ms`);
  console.log(`  track() → queued, p95         ${round(quantile(latencies, 0.95))} ms`);
  console.log(`  events/s into the outbox      ${Math.round(1000 / (burst / 1000))} (1,000 at once in ${Math.round(burst)} ms)`);
  console.log(`  requests per 100 events       ${requestsPer100}`);
  console.log(`  bytes on the wire per event   ${Math.round(bytesPerEvent)} B`);
  console.log(`  drain 1,000 after reconnect   ${drainMs} ms`);
  console.log(`  wire duplicates in this run   ${collector.duplicates()}`);
} finally {
  await browser.close();
  await Promise.all([collector.close(), site.close()]);
}
