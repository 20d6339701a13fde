// The README's own examples, copied into a page word for word: the script tag, the schema and the page of
// "From a referred visit to a paid conversion" must fit together, against a real reftrack-collector checking the same
// schema. A site owner who copies them sees every event delivered and accepted, and nothing in the console.
import { test, expect } from "@playwright/test";
import { createServer, type Server } from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCollectorProcess, type CollectorProcess } from "../collector/process.js";
import { BUNDLE } from "./delivery-site.js";

/** The code block that follows `<!-- example: NAME -->` in the README, without the list item's indentation. */
function example(readme: string, name: string): string {
  const marker = readme.indexOf(`<!-- example: ${name} -->`);
  if (marker < 0) throw new Error(`README has no example "${name}"`);
  const fence = /\n( *)```\w*\n([\s\S]*?)\n *```/.exec(readme.slice(marker));
  if (!fence) throw new Error(`README example "${name}" has no code block`);
  const indent = fence[1]?.length ?? 0;
  return (fence[2] ?? "").split("\n").map((line) => line.slice(indent)).join("\n");
}

const README = readFileSync("README.md", "utf8");
const READ_TOKEN = "readme-test-read-token-0123456789";

let collector: CollectorProcess;
let site: Server;
let siteUrl = "";
let dir = "";
const signups: URLSearchParams[] = [];

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "reftrack-readme-"));
  const schema = example(README, "events.schema.json");
  writeFileSync(join(dir, "events.schema.json"), schema);
  site = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method === "POST" && path === "/signup") {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        signups.push(new URLSearchParams(body));
        response.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>Welcome</title><p>Welcome</p>");
      });
      return;
    }
    if (BUNDLE.test(path ?? "")) return void response.writeHead(200, { "Content-Type": "text/javascript" }).end(readFileSync(`dist${path}`));
    if (path === "/events.schema.json") return void response.writeHead(200, { "Content-Type": "application/json" }).end(schema);
    if (path === "/favicon.ico") return void response.writeHead(204).end();
    const scriptTag = example(README, "script-tag").replace("https://collect.example.com/v1/batch", `${collector.url}/v1/batch`);
    const page = `<!doctype html><html><head><meta charset="utf-8"><title>README example</title>\n${scriptTag}\n</head><body>\n${example(README, "page")}\n</body></html>`;
    response.writeHead(200, { "Content-Type": "text/html" }).end(page);
  });
  await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  collector = await startCollectorProcess(["--db", join(dir, "events.db"), "--schema", join(dir, "events.schema.json"), "--allow-origin", siteUrl], { REFTRACK_READ_TOKEN: READ_TOKEN });
});

test.afterAll(async () => {
  await collector?.stop("SIGKILL");
  await new Promise<void>((resolve) => site.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

test("the README's script tag, schema and page deliver every event they make, accepted by the collector, with a quiet console", async ({ page }) => {
  const heard: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "warning" || message.type() === "error") heard.push(`${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => heard.push(`pageerror: ${error.message}`));

  await page.goto(`${siteUrl}/?ref=README-1`);
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: { version?: unknown } }).reftrack.version === "string");
  await page.click("text=Share on X");
  await page.fill('form[data-track="newsletter_joined"] input[name="email"]', "alex@domain.io");
  await page.selectOption('form[data-track="newsletter_joined"] select', "research");
  await page.check('form[data-track="newsletter_joined"] input[name="weekly"]');
  await page.click("text=Subscribe");
  await page.waitForLoadState("load");
  await page.fill('form[action="/signup"] input[name="email"]', "sam@domain.io");
  await page.selectOption('form[action="/signup"] select', "pro");
  await page.fill('form[action="/signup"] input[name="password"]', "hunter2-secret");
  await page.click("text=Create account");
  await page.waitForURL(`${siteUrl}/signup`);

  // The form carried the referral to the site's server: what its handler reads to send signed_up.
  expect(signups.map((form) => [form.get("referral_code"), form.get("plan")])).toEqual([["README-1", "pro"]]);

  type Stored = { event: string; body: { metadata: Record<string, unknown>; customer: { source_id: string }; referral?: { code: string } } };
  const stored = async () =>
    ((await (await fetch(`${collector.url}/v1/events`, { headers: { Authorization: `Bearer ${READ_TOKEN}` } })).json()) as { events: Stored[] }).events;
  await expect.poll(async () => (await stored()).map((event) => event.event).sort(), { timeout: 15_000 }).toEqual(["newsletter_joined", "share_social"]);
  const byName = Object.fromEntries((await stored()).map((event) => [event.event, event.body]));
  expect(byName.share_social).toMatchObject({ metadata: { network: "x" }, referral: { code: "README-1" } });
  expect(byName.newsletter_joined).toMatchObject({ metadata: { topic: "research", weekly: true }, customer: { source_id: "alex@domain.io" }, referral: { code: "README-1" } });
  expect(JSON.stringify(await stored())).not.toContain("hunter2-secret");
  expect(heard).toEqual([]);
});
