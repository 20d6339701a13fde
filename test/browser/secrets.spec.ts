// Issue 9 in Chromium: secrets in the address, the referrer and marked form fields never leave the page, and a
// collector's partial rejection reaches the site (a console warning from the script tag) without an error in the page.
import type { Page } from "@playwright/test";
import { startSite, type Site } from "./delivery-site.js";
import { expect, test } from "./fixtures.js";
import { startRecordingCollector, type RecordingCollector } from "./secrets-collector.js";

let collector: RecordingCollector;
let site: Site | null = null;

test.beforeEach(async () => {
  collector = await startRecordingCollector();
});
test.afterEach(async () => {
  await Promise.all([collector.close(), site?.close()]);
  site = null;
});

interface SentEvent {
  id: string;
  event: string;
  metadata: Record<string, unknown>;
  referral?: { code: string };
  context: { page: { url: string; referrer: string } };
}
type Reftrack = { version?: string; track(name: string, metadata?: unknown): Promise<{ id: string }>; flush(): Promise<void>; referral(): { landing_url: string } | null };

const loaded = (page: Page) => page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
const trackAndFlush = (page: Page, name: string) =>
  page.evaluate(async (name) => {
    const { reftrack } = window as unknown as { reftrack: Reftrack };
    const { id } = await reftrack.track(name);
    await reftrack.flush();
    return id;
  }, name);
const sentEvents = () => collector.bodies.flatMap((body) => (JSON.parse(body) as { batch: SentEvent[] }).batch);
/** Everything reftrack keeps in IndexedDB, as text. */
const storedState = (page: Page) =>
  page.evaluate(
    () =>
      new Promise<string>((resolve, reject) => {
        const open = indexedDB.open("reftrack");
        open.onsuccess = () => {
          const all = open.result.transaction("state").objectStore("state").getAll();
          all.onsuccess = () => resolve(JSON.stringify(all.result));
          all.onerror = () => reject(all.error);
        };
        open.onerror = () => reject(open.error);
      }),
  );

test("a landing URL's token and access token are neither sent nor stored, nor the referrer's; ref and utm_source are kept", async ({ page }) => {
  site = await startSite({ "data-endpoint": collector.url, "data-flush-ms": "100" });
  await page.goto(`${site.origin}/page.html?ref=SECRETS-1&token=SECRET1&utm_source=mail#access_token=SECRET2`);
  await loaded(page);
  await trackAndFlush(page, "landed");
  const landing = `${site.origin}/page.html?ref=SECRETS-1&utm_source=mail`;
  await expect.poll(() => sentEvents().map((event) => event.event)).toEqual(["landed"]);
  expect(sentEvents()[0]).toMatchObject({ referral: { code: "SECRETS-1" }, context: { page: { url: landing } } });
  expect(await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.referral()?.landing_url)).toBe(landing);
  expect(await storedState(page)).not.toMatch(/SECRET1|SECRET2|token/);

  // Chromium sends the whole landing URL, token included, as the next page's referrer.
  await page.click("#away");
  await page.waitForURL(`${site.origin}/other.html`);
  await loaded(page);
  expect(await page.evaluate(() => document.referrer)).toContain("token=SECRET1");
  await trackAndFlush(page, "next_page");
  await expect.poll(() => sentEvents().find((event) => event.event === "next_page")?.context.page.referrer).toBe(landing);
  expect(collector.bodies.join("\n")).not.toMatch(/SECRET1|SECRET2|token/);
});

test("marked fields with autocomplete cc-number, one-time-code or cc-csc, and a marked hidden field, are never sent", async ({ page }) => {
  site = await startSite({ "data-endpoint": collector.url, "data-flush-ms": "100", "data-debug": "true" });
  const skipped: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "info" && message.text().includes("skipped")) skipped.push(message.text());
  });
  await page.goto(`${site.origin}/page.html`);
  await loaded(page);
  await page.evaluate(() => {
    document.body.insertAdjacentHTML(
      "beforeend",
      `<form id="pay" data-track="paid">
        <input name="plan" data-track-field="plan" value="pro">
        <input id="card" name="card" autocomplete="cc-number" data-track-field="card">
        <input id="cvc" name="cvc" autocomplete="section-pay billing cc-csc" data-track-field="cvc">
        <input id="otp" name="otp" autocomplete="one-time-code" data-track-field="otp">
        <input type="hidden" name="csrf" data-track-field="csrf" value="HIDDEN-SECRET-3">
        <button id="pay-button">Pay</button>
      </form>`,
    );
    document.getElementById("pay")?.addEventListener("submit", (event) => event.preventDefault());
  });
  await page.fill("#card", "4111111111111111");
  await page.fill("#cvc", "CVC-SECRET-737");
  await page.fill("#otp", "OTP-SECRET-913");
  await page.click("#pay-button");
  await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.flush());
  await expect.poll(() => sentEvents().map((event) => [event.event, event.metadata])).toEqual([["paid", { plan: "pro" }]]);
  expect(collector.bodies.join("\n")).not.toMatch(/4111111111111111|CVC-SECRET|OTP-SECRET|HIDDEN-SECRET/);
  expect(skipped).toEqual([
    expect.stringContaining(`field "card" skipped: autocomplete="cc-number" is never read`),
    expect.stringContaining(`field "cvc" skipped: autocomplete="section-pay billing cc-csc" is never read`),
    expect.stringContaining(`field "otp" skipped: autocomplete="one-time-code" is never read`),
    expect.stringContaining(`field "csrf" skipped: type="hidden" is never read`),
  ]);
});

/** The test page on a fresh site sending to the recording collector, with the page's console warnings collected. */
async function openWatched(page: Page): Promise<string[]> {
  site = await startSite({ "data-endpoint": collector.url, "data-flush-ms": "100" });
  const warnings: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "warning") warnings.push(message.text());
  });
  await page.goto(`${site.origin}/page.html`);
  await loaded(page);
  return warnings;
}

test("a 200 that rejects one event: the script tag warns naming its id and issue, the page sees no error, nothing is resent", async ({ page }) => {
  const issue = { path: "metadata.network", message: "Expected one of `x`, `linkedin`, but received: \"myspace\"" };
  collector.answer = (ids) => JSON.stringify({ accepted: ids.length - 1, duplicates: 0, rejected: [{ id: ids[0], issues: [issue] }] });
  const warnings = await openWatched(page);
  const ids = await page.evaluate(async () => {
    const { reftrack } = window as unknown as { reftrack: Reftrack };
    const tracked = await Promise.all([reftrack.track("share_social", { network: "myspace" }), reftrack.track("fine")]);
    await reftrack.flush();
    return tracked.map((result) => result.id);
  });
  await expect.poll(() => warnings).toEqual([expect.stringContaining(`The endpoint rejected 1 of 2 event(s): ${ids[0]}: ${issue.path}: ${issue.message}`)]);
  // What was rejected is final: neither this page nor the next one sends it again.
  await page.reload();
  await loaded(page);
  await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.flush());
  await page.waitForTimeout(500);
  expect(collector.bodies).toHaveLength(1);
});

test("a 200 whose body is not JSON is a plain delivery: no warning, nothing resent", async ({ page }) => {
  collector.answer = () => "ok";
  const warnings = await openWatched(page);
  await trackAndFlush(page, "e");
  await expect.poll(() => collector.bodies.length).toBe(1);
  await page.reload();
  await loaded(page);
  await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.flush());
  await page.waitForTimeout(500);
  expect(collector.bodies).toHaveLength(1);
  expect(warnings).toEqual([]);
});
