// The script tag end to end in Chromium, against the demo site and its collection endpoint.
import { voucherifyErrors } from "../voucherify.js";
import { anonymousIdOf, expect, ownerHeaders, received, test, uniqueCode, waitForEvents } from "./fixtures.js";

const errorsOf = voucherifyErrors();
const expectVoucherifyValid = (events: { body: unknown }[]) => {
  for (const { body } of events) expect(errorsOf(body), JSON.stringify(body)).toBeNull();
};

test("a referred visitor navigates and signs up; the site's server sends signed_up with the code, the browser its clicks", async ({ page, request, pageErrors }) => {
  const code = uniqueCode("NRY");
  // A customer of its own: signed_up counts once per customer, and the demo's collector lives for the whole run.
  const email = `${code.toLowerCase()}@domain.io`;
  await page.goto(`/?ref=${code}`);
  await expect(page.locator("#referral-banner")).toContainText(code);

  await page.click("#cta-hero");
  await page.waitForURL("**/signup.html");
  await expect(page.locator("#referral-banner")).toContainText(code);
  await page.fill("#name", "Alex Doe");
  await page.fill("#email", email);
  await page.fill("#password", "hunter2-secret");
  await page.selectOption("#plan", "pro");
  await page.check("#newsletter");
  await page.click("#signup-submit");
  await page.waitForURL("**/signup.html?welcome=1&plan=pro");
  await expect(page.locator("#signup-done")).toBeVisible();

  const [signup] = await waitForEvents(request, { referral: code, event: "signed_up" });
  expect(signup?.source).toBe("server");
  expect(signup?.body).toMatchObject({
    event: "signed_up",
    customer: { source_id: email, email, name: "Alex Doe" },
    metadata: { plan: "pro", newsletter: true },
    referral: { code },
  });
  expect(JSON.stringify(signup)).not.toContain("hunter2-secret");
  // The hero link navigated away at once; the page-hide flush still delivered its click.
  const all = await waitForEvents(request, { referral: code }, 2);
  expect(all.map((item) => [item.body.event, item.source]).sort()).toEqual([["cta_clicked", "browser"], ["signed_up", "server"]]);
  expectVoucherifyValid(all);
  expect(pageErrors).toEqual([]);
});

test("a data-track button sends its event with converted metadata", async ({ page, request }) => {
  const code = uniqueCode("BTN");
  await page.goto(`/?ref=${code}`);
  await page.click("#share-linkedin");
  await page.evaluate(() => (window as unknown as { reftrack: { flush(): Promise<void> } }).reftrack.flush());
  const events = await waitForEvents(request, { referral: code });
  expect(events[0]?.body).toMatchObject({ event: "share_social", metadata: { network: "linkedin" }, referral: { code } });
  expect(events[0]?.body.customer.source_id).toBe(`anon_${events[0]?.body.anonymous_id}`);
  expectVoucherifyValid(events);
});

test("an event that fails the schema rejects its promise with the issues, and nothing is sent", async ({ page, request }) => {
  const batches: string[] = [];
  page.on("request", (sent) => {
    if (sent.url().endsWith("/v1/batch")) batches.push(sent.postData() ?? "");
  });
  await page.goto("/");
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: { version?: string } }).reftrack.version === "string");
  const outcome = await page.evaluate(async () => {
    const reftrack = (window as unknown as { reftrack: { track(name: string, metadata?: unknown): Promise<unknown>; flush(): Promise<void> } }).reftrack;
    try {
      await reftrack.track("share_social", { network: "myspace", extra: 1 });
      return { resolved: true };
    } catch (error) {
      const rejected = error as Error & { issues?: unknown };
      return { name: rejected.name, issues: rejected.issues };
    } finally {
      await reftrack.flush();
    }
  });
  expect(outcome).toEqual({
    name: "ValidationError",
    issues: [
      { path: "metadata.network", message: expect.stringContaining('Expected one of "x", "linkedin", "facebook"') },
      { path: "metadata.extra", message: expect.stringContaining("is not a property") },
    ],
  });
  expect(batches).toEqual([]);
  expect(await received(request, { customer: `anon_${await anonymousIdOf(page)}` })).toEqual([]);
});

test("a code that is not a referral code is ignored, never shown, never sent", async ({ page, request }) => {
  let dialogs = 0;
  page.on("dialog", (dialog) => {
    dialogs++;
    void dialog.dismiss();
  });
  await page.goto(`/?ref=${encodeURIComponent('<img src=x onerror="alert(1)">')}&utm_source=test`);
  await page.click("#share-x");
  await page.evaluate(() => (window as unknown as { reftrack: { flush(): Promise<void> } }).reftrack.flush());
  const events = await waitForEvents(request, { customer: `anon_${await anonymousIdOf(page)}` });
  expect(events[0]?.body.referral).toBeUndefined();
  await expect(page.locator("#referral-banner")).toBeHidden();
  expect(dialogs).toBe(0);
});

test("the demo's outage: an event clicked while the endpoint answers 503 arrives once it is back", async ({ page, request }) => {
  const code = uniqueCode("OUT");
  await page.goto(`/?ref=${code}`);
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: { version?: string } }).reftrack.version === "string");
  const statuses: number[] = [];
  page.on("response", (response) => {
    if (response.url().endsWith("/v1/batch")) statuses.push(response.status());
  });
  await request.post("/demo/outage", { data: { seconds: 2 }, headers: ownerHeaders() });
  await page.click("#share-facebook");
  await page.evaluate(() => (window as unknown as { reftrack: { flush(): Promise<void> } }).reftrack.flush());
  const events = await waitForEvents(request, { referral: code });
  expect(events[0]?.body).toMatchObject({ event: "share_social", metadata: { network: "facebook" } });
  expect(statuses[0]).toBe(503);
  expect(statuses.at(-1)).toBe(200);
});

test("the demo's direct page sends straight to its stand-in for Voucherify's client API", async ({ page, request }) => {
  const code = uniqueCode("DIR");
  const posts: { url: string; headers: Record<string, string> }[] = [];
  page.on("request", (sent) => {
    if (sent.method() === "POST") posts.push({ url: new URL(sent.url()).pathname, headers: sent.headers() });
  });
  await page.goto(`/direct.html?ref=${code}`);
  await expect(page.locator("#referral-banner")).toContainText(code);
  await page.click("#share-x");
  const [stored] = await waitForEvents(request, { referral: code });
  expect(stored?.body).toMatchObject({ event: "share_social", metadata: { network: "x" }, referral: { code }, via: "voucherify-client-api" });
  expect(posts.map((post) => post.url)).toEqual(["/client/v1/events"]);
  expect(posts[0]?.headers).toMatchObject({ "x-client-application-id": "demo-app", "x-client-token": "demo-client-token" });
});

test("the demo's consent page sends nothing until Accept, then what waited", async ({ page, request }) => {
  const code = uniqueCode("CON");
  await page.goto(`/consent.html?ref=${code}`);
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: { version?: string } }).reftrack.version === "string");
  await page.click("#share-x");
  await page.evaluate(() => (window as unknown as { reftrack: { flush(): Promise<void> } }).reftrack.flush());
  await page.waitForTimeout(500);
  expect(await received(request, { referral: code })).toEqual([]);
  await page.click("#consent-accept");
  await expect(page.locator("#consent-banner")).toBeHidden();
  const [stored] = await waitForEvents(request, { referral: code });
  expect(stored?.body).toMatchObject({ event: "share_social", metadata: { network: "x" } });
});
