// What a page view costs a visitor, beside Plausible's tracker measured in the same run (issue 11):
// - the landing view: arrives with ?ref=, the page has tracked buttons and a sign-up form, nothing is clicked;
// - the tracking view: the same, then one tracked click, delivered.
// Bytes are the gzip size of every script the page fetched. CPU is the page's main-thread task time (Chromium's own
// TaskDuration through the Performance domain, which does not re-parse scripts the way a debugger does), from
// navigation until the page is idle, minus the same figure for a blank page; the median of RUNS page loads.
import { chromium, type Browser } from "playwright-core";
import { createServer } from "node:http";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../test/browser/chromium.js";
import { mainThreadMs, median } from "./page-time.js";

// 15: this shared machine moves single loads by several milliseconds; a median of 9 still moved by 2 ms between runs.
const RUNS = 15;
/** ScriptDuration: time the main thread spent running JavaScript (compile, evaluate, callbacks); TaskDuration adds layout and paint. */
const METRIC = process.env.BENCH_METRIC ?? "ScriptDuration";
const files: Record<string, Buffer> = { "/plausible.js": readFileSync("node_modules/@plausible-analytics/tracker/plausible.js") };
files["/reftrack.js"] = readFileSync(process.env.BENCH_BUNDLE ?? "dist/reftrack.js"); for (const name of readdirSync("dist").filter((file) => /^reftrack\.[0-9a-f]{12}\.js$/.test(file))) files[`/${name}`] = readFileSync(`dist/${name}`);
const gzipBytes = (path: string) => gzipSync(files[path] ?? Buffer.alloc(0), { level: 9 }).length;

const body = `<h1>Lumen</h1><button id="share" data-track="share_social" data-track-network="x">Share</button>
<button data-track="cta_clicked" data-track-location="hero">Start</button>
<form method="post" action="/signup" data-track-referral><input name="email"><button>Sign up</button></form>`;
const pages: Record<string, string> = {
  "/blank.html": `<!doctype html><title>blank</title>${body}`,
  "/reftrack.html": `<!doctype html><title>reftrack</title>
<script>window.reftrack = window.reftrack || function () { (reftrack.q = reftrack.q || []).push(arguments) };</script>
<script async src="/reftrack.js" data-endpoint="/v1/batch" data-flush-ms="100"></script>${body}`,
  "/plausible.html": `<!doctype html><title>plausible</title>
<script type="module">import { init, track } from "/plausible.js"; init({ domain: "bench.example", endpoint: "/api/event" }); document.getElementById("share").addEventListener("click", () => track("share", {}));</script>${body}`,
};

let delivered = 0;
const server = createServer((request, response) => {
  const path = (request.url ?? "/").split("?")[0] ?? "/";
  if (request.method === "POST") {
    request.resume();
    request.on("end", () => {
      delivered++;
      response.writeHead(path === "/v1/batch" ? 200 : 202, { "Content-Type": "application/json" }).end('{"accepted":1,"duplicates":0,"rejected":[]}');
    });
    return;
  }
  const script = files[path];
  if (script) return void response.writeHead(200, { "Content-Type": "text/javascript" }).end(script);
  const page = pages[path];
  response.writeHead(page ? 200 : 404, { "Content-Type": "text/html" }).end(page ?? "");
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

interface View {
  bytes: number;
  taskMs: number;
}

/** One fresh page load (a new context: empty cache and storage, as a first visit), optionally one tracked click. */
async function view(browser: Browser, path: string, click: boolean): Promise<View> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const scripts = new Set<string>();
  page.on("request", (request) => {
    const requested = new URL(request.url()).pathname;
    if (requested.endsWith(".js")) scripts.add(requested);
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send("Performance.enable");
  const before = delivered;
  await page.goto(`${origin}${path}?ref=NRY-01`, { waitUntil: "load" });
  if (click) {
    await page.click("#share");
    const start = Date.now();
    while (delivered === before && Date.now() - start < 10_000) await page.waitForTimeout(20);
  }
  await page.waitForTimeout(400); // idle: timers and IndexedDB callbacks of the start have run
  const taskMs = await mainThreadMs(cdp, METRIC);
  await context.close();
  return { bytes: [...scripts].reduce((sum, script) => sum + gzipBytes(script), 0), taskMs };
}


const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
try {
  const cases = [
    ["blank page", "/blank.html", false],
    ["reftrack, landing view", "/reftrack.html", false],
    ["Plausible, landing view", "/plausible.html", false],
    ["reftrack, tracking view (1 click)", "/reftrack.html", true],
    ["Plausible, tracking view (1 click)", "/plausible.html", true],
  ] as const;
  const results = new Map<string, View[]>();
  for (const [label] of cases) results.set(label, []);
  // Interleaved, so that a slow moment of this shared machine falls on every case alike.
  for (let run = 0; run < RUNS; run++) {
    for (const [label, path, click] of cases) results.get(label)?.push(await view(browser, path, click));
  }
  const blank = median((results.get("blank page") ?? []).map((result) => result.taskMs));
  console.log(`page views in Chromium, median of ${RUNS} fresh loads each (${METRIC}; blank page: ${blank.toFixed(1)} ms)`);
  console.log(`  ${"".padEnd(36)}${"gzip bytes".padStart(12)}${"CPU over blank".padStart(18)}`);
  const figures = (label: string) => {
    const runs = results.get(label) ?? [];
    return { bytes: median(runs.map((result) => result.bytes)), ms: median(runs.map((result) => result.taskMs)) - blank };
  };
  for (const [label] of cases.slice(1)) {
    const { bytes, ms } = figures(label);
    console.log(`  ${label.padEnd(36)}${String(bytes).padStart(12)}${`${ms.toFixed(1)} ms`.padStart(18)}`);
  }
  // `npm run bench -- --update-readme`: the README's page-view table is this run's figures, not a copy by hand.
  if (process.argv.includes("--update-readme")) {
    const cell = ({ bytes, ms }: { bytes: number; ms: number }) => `${bytes.toLocaleString("en-US")} B | ${ms.toFixed(1)} ms`;
    const row = (view: string, ours: string, theirs: string) => `| ${view} | ${cell(figures(ours))} | ${cell(figures(theirs))} |`;
    const table = [
      "| page view | reftrack, bytes (gzip) | reftrack, script time | Plausible, bytes | Plausible, script time |",
      "| --- | ---: | ---: | ---: | ---: |",
      row("landing, nothing clicked", "reftrack, landing view", "Plausible, landing view"),
      row("tracking, one click delivered", "reftrack, tracking view (1 click)", "Plausible, tracking view (1 click)"),
    ].join("\n");
    const readme = readFileSync("README.md", "utf8");
    const updated = readme.replace(/\| page view \| reftrack, bytes \(gzip\)[^\n]*\n(\|[^\n]*\n)+/, `${table}\n`);
    if (updated === readme && !readme.includes(table)) throw new Error("README.md has no page-view table to update");
    writeFileSync("README.md", updated);
    console.log("README.md: page-view table updated");
  }
} finally {
  await browser.close();
  server.close();
}
