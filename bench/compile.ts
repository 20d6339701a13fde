// Where V8 compiles the first file of a landing view: on the page's main thread, or on a background thread while the
// file streams in. The first file as built (with V8's compile hint, build.mjs) beside the same bytes without its first
// line (the hint), loaded in turn: V8's compile events from a Chromium trace, and (untraced) the page's script time.
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../test/browser/chromium.js";
import { mainThreadMs, median } from "./page-time.js";

const RUNS = 7;
const TIMED_RUNS = 15;
const built = readFileSync("dist/reftrack.js", "utf8");
const variants: Record<string, string> = { "with the hint (as built)": built, "without it": built.slice(built.indexOf("\n") + 1) };
const names = Object.keys(variants);

const body = `<button data-track="share_social" data-track-network="x">Share</button>
<form method="post" action="/signup" data-track-referral><input name="email"><button>Sign up</button></form>`;
const server = createServer((request, response) => {
  const url = new URL(request.url ?? "/", "http://bench");
  const variant = url.searchParams.get("v") ?? "";
  if (url.pathname === "/reftrack.js") return void response.writeHead(200, { "Content-Type": "text/javascript" }).end(variants[names[Number(variant)] ?? ""] ?? "");
  response.writeHead(200, { "Content-Type": "text/html" }).end(`<!doctype html><title>compile</title><script async src="/reftrack.js?v=${variant}" data-endpoint="/v1/batch"></script>${body}`);
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  dur?: number;
  args?: { name?: string; data?: { url?: string } };
}
/** V8's compile and parse work, split into the renderer's main thread and the rest of its threads. */
const COMPILE = /^V8\.(CompileCode|CompileIgnition|ParseFunction|PreParse|CompileCodeBackground)$/;

const totals = new Map<string, { main: number; background: number; scriptMs: number[] }>(names.map((name) => [name, { main: 0, background: 0, scriptMs: [] }]));
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
try {
  for (let run = 0; run < RUNS; run++) {
    for (const [index, name] of names.entries()) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      const events: TraceEvent[] = [];
      cdp.on("Tracing.dataCollected", ({ value }) => void events.push(...(value as unknown as TraceEvent[])));
      const complete = new Promise((resolve) => cdp.once("Tracing.tracingComplete", resolve));
      await cdp.send("Tracing.start", { traceConfig: { includedCategories: ["v8", "v8.compile", "disabled-by-default-v8.compile", "devtools.timeline"] }, transferMode: "ReportEvents" });
      await page.goto(`${origin}/?v=${index}&ref=NRY-01`, { waitUntil: "load" });
      await page.waitForTimeout(400);
      await cdp.send("Tracing.end");
      await complete;
      const threads = new Map(events.filter((event) => event.name === "thread_name").map((event) => [`${event.pid}:${event.tid}`, event.args?.name ?? ""]));
      // The page's renderer: the process whose main thread ran our script.
      const renderer = events.find((event) => event.name === "EvaluateScript" && event.args?.data?.url?.includes("/reftrack.js"))?.pid;
      const total = totals.get(name);
      for (const event of events) {
        if (event.ph !== "X" || event.pid !== renderer || !COMPILE.test(event.name) || !total) continue;
        const main = threads.get(`${event.pid}:${event.tid}`)?.startsWith("CrRendererMain") ?? false;
        total[main ? "main" : "background"] += (event.dur ?? 0) / 1000 / RUNS;
      }
      await context.close();
    }
  }
  // Untraced, as bench/landing.ts measures: Chromium's ScriptDuration, interleaved so that a busy moment falls on both.
  for (let run = 0; run < TIMED_RUNS; run++) {
    for (const [index, name] of names.entries()) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send("Performance.enable");
      await page.goto(`${origin}/?v=${index}&ref=NRY-01`, { waitUntil: "load" });
      await page.waitForTimeout(400);
      totals.get(name)?.scriptMs.push(await mainThreadMs(cdp));
      await context.close();
    }
  }
  console.log(`V8 compile and parse of the landing view: mean of ${RUNS} traced page loads (tracing slows both alike); script time: median of ${TIMED_RUNS} untraced`);
  console.log(`  ${"dist/reftrack.js".padEnd(28)}${"main thread".padStart(14)}${"background".padStart(14)}${"script time".padStart(14)}`);
  for (const [name, { main, background, scriptMs }] of totals) {
    console.log(`  ${name.padEnd(28)}${`${main.toFixed(1)} ms`.padStart(14)}${`${background.toFixed(1)} ms`.padStart(14)}${`${median(scriptMs).toFixed(1)} ms`.padStart(14)}`);
  }
} finally {
  await browser.close();
  server.close();
}
