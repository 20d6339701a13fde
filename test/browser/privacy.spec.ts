// Consent and cross-subdomain attribution, in Chromium.
import type { Page } from "@playwright/test";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "./chromium.js";
import { collectorPerTest, startSite } from "./delivery-site.js";
import { expect, test } from "./fixtures.js";

// *.example.test resolves to this machine, so www. and app. are two real origins sharing a parent domain.
test.use({ launchOptions: { executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, "--host-resolver-rules=MAP *.example.test 127.0.0.1"] } });

const use = collectorPerTest();

type Reftrack = ((...args: unknown[]) => unknown) & { version?: string; track(name: string): Promise<{ id: string }>; flush(): Promise<void>; referral(): { code: string } | null };
const loaded = (page: Page) => page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
const databases = (page: Page) => page.evaluate(async () => (await indexedDB.databases()).map((database) => database.name ?? "").filter((name) => name.startsWith("reftrack")));
const stateKeys = (page: Page) =>
  page.evaluate(
    () =>
      new Promise<string[]>((resolve) => {
        const open = indexedDB.open("reftrack");
        open.onsuccess = () => {
          const keys = open.result.transaction("state").objectStore("state").getAllKeys();
          keys.onsuccess = () => resolve(keys.result.map(String));
        };
      }),
  );

test("data-consent=required: nothing stored or sent before consent; after it, everything; the choice is remembered; declining deletes", async ({ page }) => {
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-consent": "required", "data-flush-ms": "100" }));
  const requests: string[] = [];
  page.on("request", (request) => {
    if (request.url() === use.collector.url) requests.push(request.method());
  });
  await page.goto(`${site.origin}/page.html?ref=CONSENT-1`);
  await loaded(page);
  await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.track("before"));
  await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.flush());
  await page.waitForTimeout(300);
  expect(requests).toEqual([]);
  expect(await databases(page)).toEqual([]);

  await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack("consent", true));
  await expect.poll(() => use.collector.ids.length, { timeout: 10_000 }).toBe(1);
  expect(await stateKeys(page)).toEqual(expect.arrayContaining(["anonymous_id", "referral"]));

  await page.reload();
  await loaded(page);
  await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.track("after_reload"));
  await expect.poll(() => use.collector.ids.length, { timeout: 10_000 }).toBe(2);

  await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack("consent", false));
  // The refusal is all that stays: the next page's first file reads it there before it stores anything.
  await expect.poll(() => stateKeys(page)).toEqual(["consent"]);
  const rejectedAs = () => page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.track("declined").then(() => "resolved", (error: Error) => error.name));
  expect(await rejectedAs()).toBe("ConsentError");
  await page.reload();
  await loaded(page);
  expect(await rejectedAs()).toBe("ConsentError");
  await page.waitForTimeout(500);
  expect(use.collector.ids).toHaveLength(2);
  expect(await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.referral())).toBeNull();
});

test("a code captured on www. is attached to events on app. through the parent-domain cookie", async ({ page }) => {
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-cookie-domain": ".example.test", "data-flush-ms": "100" }));
  const port = new URL(site.origin).port;
  await page.goto(`http://www.example.test:${port}/page.html?ref=SUB-7`);
  await loaded(page);
  await expect.poll(() => page.evaluate(() => document.cookie)).toContain("reftrack_ref=SUB-7");
  await page.goto(`http://app.example.test:${port}/other.html`);
  await loaded(page);
  expect(await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.referral()?.code)).toBe("SUB-7");
  await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.track("signed_up"));
  await expect.poll(() => use.collector.ids.length, { timeout: 10_000 }).toBe(1);
});

test("without data-cookie-domain, app. does not see the code captured on www.", async ({ page }) => {
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url }));
  const port = new URL(site.origin).port;
  await page.goto(`http://www.example.test:${port}/page.html?ref=SUB-8`);
  await loaded(page);
  await page.goto(`http://app.example.test:${port}/other.html`);
  await loaded(page);
  expect(await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.referral())).toBeNull();
});
