// The referral reaches the site's server, and only the server claims the conversion (CONTRACT sections 4, 5, 8),
// in Chromium against the demo: its sign-up handler reads the hidden field or the cookie and sends signed_up.
import type { Page } from "@playwright/test";
import { expect, test, uniqueCode, waitForEvents } from "./fixtures.js";

type Reftrack = { version?: string; track(name: string, metadata?: object): Promise<{ id: string }>; flush(): Promise<void> };
const loaded = (page: Page) => page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");

test("the referral cookie reaches same-origin requests: host-only, Lax, and the documented value", async ({ page, context }) => {
  const code = uniqueCode("CK");
  await page.goto(`/?ref=${code}`);
  await loaded(page);
  await expect.poll(async () => (await context.cookies()).find((cookie) => cookie.name === "reftrack_ref")?.value ?? "").toMatch(new RegExp(`^${code}\\|ref\\|`));
  const cookie = (await context.cookies()).find((item) => item.name === "reftrack_ref");
  expect(cookie).toMatchObject({ domain: "127.0.0.1", path: "/", sameSite: "Lax", secure: false });
  const [sent] = await Promise.all([page.waitForRequest("**/healthz"), page.evaluate(() => fetch("/healthz"))]);
  expect(await sent.headerValue("cookie")).toContain(`reftrack_ref=${code}|ref|`);
});

test("the hidden field carries the code to the server on a real form post, even with no cookie, for a form added after load and submitted by script", async ({ page, context, request }) => {
  const code = uniqueCode("FORM");
  const email = `${code.toLowerCase()}@domain.io`;
  await page.goto(`/signup.html?ref=${code}`);
  await loaded(page);
  // Only the hidden field can carry the code now.
  await context.clearCookies();
  await page.evaluate((address) => {
    const form = document.createElement("form");
    form.method = "post";
    form.action = "/signup";
    form.setAttribute("data-track-referral", "");
    form.innerHTML = `<input name="email"><input name="plan" value="team">`;
    (form.elements.namedItem("email") as HTMLInputElement).value = address;
    document.body.append(form);
    form.requestSubmit();
  }, email);
  await page.waitForURL("**/signup.html?welcome=1&plan=team");
  const [signup] = await waitForEvents(request, { customer: email });
  expect(signup).toMatchObject({ source: "server", referral_code: code, body: { event: "signed_up", metadata: { plan: "team" } } });
});

test("signing up twice pays once: the second signed_up of a customer is a duplicate", async ({ page, request }) => {
  const code = uniqueCode("TWICE");
  const email = `${code.toLowerCase()}@domain.io`;
  for (let round = 0; round < 2; round++) {
    await page.goto(`/signup.html?ref=${code}`);
    await page.fill("#email", email);
    await page.fill("#password", "whatever-1");
    await page.click("#signup-submit");
    await page.waitForURL("**/signup.html?welcome=1&plan=free");
  }
  await waitForEvents(request, { customer: email, event: "signed_up" });
  await page.waitForTimeout(300);
  expect(await waitForEvents(request, { customer: email, event: "signed_up" })).toHaveLength(1);
});

test("track() of a server event rejects at once with the reason on path event, and nothing is sent", async ({ page }) => {
  const batches: string[] = [];
  page.on("request", (sent) => {
    if (sent.url().endsWith("/v1/batch")) batches.push(sent.postData() ?? "");
  });
  await page.goto(`/?ref=${uniqueCode("CLAIM")}`);
  await loaded(page);
  const outcome = await page.evaluate(async () => {
    const api = (window as unknown as { reftrack: Reftrack }).reftrack;
    try {
      await api.track("signed_up", { plan: "pro" });
      return { rejected: false, name: "", issues: [] };
    } catch (error) {
      return { rejected: true, name: (error as Error).name, issues: (error as { issues: { path: string; message: string }[] }).issues };
    } finally {
      await api.flush();
    }
  });
  expect(outcome).toMatchObject({ rejected: true, name: "ValidationError", issues: [{ path: "event", message: expect.stringContaining("reftrack/server") }] });
  await page.waitForTimeout(300);
  expect(batches.filter((body) => body.includes("signed_up"))).toEqual([]);
});
