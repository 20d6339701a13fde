// Straight to Voucherify's client-side API (data-voucherify-*), in Chromium, against a fake that validates every
// body with Voucherify's own schema: one event per request, paced to 5 per 5 s, 429s honoured, nothing lost.
import type { Page } from "@playwright/test";
import { startSite, type Site } from "./delivery-site.js";
import { startFakeVoucherify, type FakeVoucherify } from "./fake-voucherify.js";
import { expect, test } from "./fixtures.js";

let voucherify: FakeVoucherify;
let site: Site;

test.beforeEach(async () => {
  voucherify = await startFakeVoucherify("app-1", "client-token-1");
  site = await startSite({ "data-voucherify-app-id": "app-1", "data-voucherify-client-token": "client-token-1", "data-voucherify-api": voucherify.api, "data-flush-ms": "200" });
});
test.afterEach(async () => {
  await Promise.all([voucherify.close(), site.close()]);
});

type Reftrack = { version?: string; track(name: string, metadata?: unknown): Promise<{ id: string }> };

async function open(page: Page) {
  await page.goto(`${site.origin}/page.html?ref=NRY-01`);
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
}

const track = (page: Page, count: number) =>
  page.evaluate((count) => Promise.all(Array.from({ length: count }, (_, n) => (window as unknown as { reftrack: Reftrack }).reftrack.track("signed_up", { n }))), count);

const maxInAnyWindow = (times: number[], windowMs: number) => Math.max(0, ...times.map((start) => times.filter((at) => at >= start && at < start + windowMs).length));

test("every event arrives as a valid Voucherify body, one per request, at most 5 requests in any 5 seconds", async ({ page }) => {
  await open(page);
  await track(page, 7);
  await expect.poll(() => voucherify.accepted.length, { timeout: 15_000 }).toBe(7);
  expect(voucherify.posts.filter((post) => post.problem)).toEqual([]);
  expect(voucherify.accepted.map((body) => (body.metadata as { n: number }).n).sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  expect(voucherify.accepted[0]).toEqual({ event: "signed_up", customer: { source_id: expect.stringMatching(/^anon_/) }, metadata: { n: expect.any(Number) }, referral: { code: "NRY-01" } });
  expect(maxInAnyWindow(voucherify.posts.map((post) => post.at), 5000)).toBeLessThanOrEqual(5);
});

test("a 429 with Retry-After is waited out, and a reload loses nothing", async ({ page }) => {
  voucherify.script.push(429, 429);
  await open(page);
  await track(page, 3);
  await expect.poll(() => voucherify.posts.length, { timeout: 5000 }).toBe(1); // answered 429, Retry-After: 1
  await page.reload(); // neither the leaving page nor the new one may send inside that second
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
  await expect.poll(() => new Set(voucherify.accepted.map((body) => (body.metadata as { n: number }).n)).size, { timeout: 20_000 }).toBe(3);
  const [first, second] = voucherify.posts;
  expect(first?.status).toBe(429);
  expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(950);
});
