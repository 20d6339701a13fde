// A site and a separate collection endpoint (another origin, so CORS is real), both under the test's control:
// the endpoint can be taken down and brought back on the same port, answer scripted statuses, be slow, and it
// counts every id it receives, duplicates included.
import { test } from "@playwright/test";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readFileSync } from "node:fs";
import type { AddressInfo, Socket } from "node:net";

export interface Answer {
  status: number;
  retryAfter?: string;
}

export interface Collector {
  url: string;
  /** Every id received, in order, duplicates included. */
  ids: string[];
  /** Every event delivered, as received. */
  events: { id: string; event: string; timestamp: string; metadata: Record<string, unknown>; referral?: { code: string }; context: { page: { url: string } } }[];
  /** Arrival time of each request, and how many events it carried. */
  requests: { at: number; count: number; bytes: number }[];
  maxInFlight: number;
  answers: Answer[];
  delayMs: number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
  duplicates(): number;
}

const listen = (server: Server, port = 0) =>
  new Promise<number>((resolve) => server.listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));

function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return sockets;
}

export const readBody = (request: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (body += chunk));
    request.on("end", () => resolve(body));
  });

export async function startCollector(): Promise<Collector> {
  let inFlight = 0;
  const collector: Collector = {
    url: "",
    ids: [],
    events: [],
    requests: [],
    maxInFlight: 0,
    answers: [],
    delayMs: 0,
    down: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
    up: async () => void (await listen(server, port)),
    close: () => collector.down(),
    duplicates: () => collector.ids.length - new Set(collector.ids).size,
  };
  const cors = (response: ServerResponse) => {
    response.setHeader("Access-Control-Allow-Origin", "*");
    response.setHeader("Access-Control-Expose-Headers", "Retry-After");
  };
  const server = createServer(async (request, response) => {
    cors(response);
    if (request.method !== "POST") return void response.writeHead(204).end();
    inFlight++;
    collector.maxInFlight = Math.max(collector.maxInFlight, inFlight);
    try {
      const body = await readBody(request);
      if (collector.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, collector.delayMs));
      const answer = collector.answers.shift() ?? { status: 200 };
      const batch = (JSON.parse(body) as { batch: Collector["events"] }).batch;
      collector.requests.push({ at: Date.now(), count: batch.length, bytes: Buffer.byteLength(body) });
      if (answer.status >= 200 && answer.status < 300) {
        collector.ids.push(...batch.map((event) => event.id));
        collector.events.push(...batch);
      }
      response.writeHead(answer.status, answer.retryAfter ? { "Retry-After": answer.retryAfter } : {}).end("{}");
    } finally {
      inFlight--;
    }
  });
  const sockets = trackSockets(server);
  const port = await listen(server);
  collector.url = `http://127.0.0.1:${port}/v1/batch`;
  return collector;
}

export interface Site {
  origin: string;
  close(): Promise<void>;
}

export interface SiteOptions {
  /** A Content-Security-Policy header for every page. */
  csp?: string;
  /** The stub inline (CONTRACT section 2, one line, as the README's CSP hash covers it) or as dist/stub.js. */
  stub?: "inline" | "file";
  /** Extra markup in the page's head (an inline schema, say). */
  head?: string;
  /** Extra markup at the end of page.html's body (a tracked form, say). */
  body?: string;
  /** A nonce on every script tag of the page (the CSP then names it). */
  nonce?: string;
  /** How long the schema URL takes to answer. */
  schemaDelayMs?: number;
}

/** reftrack.js, and the full tracker it loads beside it (reftrack.<content hash>.js). */
export const BUNDLE = /^\/reftrack(\.[0-9a-f]{12})?\.js$/;

/** Pages with the script tag of CONTRACT section 2 and the given attributes; `/page.html` and `/other.html`. */
export async function startSite(attributes: Record<string, string>, options: SiteOptions = {}): Promise<Site> {
  const stubFile = readFileSync("dist/stub.js");
  const tag = Object.entries(attributes)
    .map(([name, value]) => `${name}="${value}"`)
    .join(" ");
  const nonce = options.nonce ? ` nonce="${options.nonce}"` : "";
  const stub = options.stub === "file" ? `<script${nonce} src="/stub.js"></script>` : `<script${nonce}>${stubFile.toString().trim()}</script>`;
  const page = (title: string, body: string) => `<!doctype html><html><head><title>${title}</title><link rel="icon" href="/favicon.ico">
${options.head ?? ""}${stub}
<script${nonce} async src="/reftrack.js" ${tag}></script></head><body>${body}</body></html>`;
  const headers = (type: string) => ({ "Content-Type": type, ...(options.csp ? { "Content-Security-Policy": options.csp } : {}) });
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    // As a CDN serves them: a sandboxed page (an opaque origin) fetches even the second file cross-origin, with CORS.
    if (BUNDLE.test(path)) return void response.writeHead(200, { "Content-Type": "text/javascript", "Access-Control-Allow-Origin": "*" }).end(readFileSync(`dist${path}`));
    if (path === "/stub.js") return void response.writeHead(200, { "Content-Type": "text/javascript" }).end(stubFile);
    if (path === "/favicon.ico") return void response.writeHead(204).end();
    if (path === "/events.schema.json") {
      const schema = { events: { left_page: {}, e: { additional_properties: true }, csp_event: { properties: { n: { type: "number" } } }, joined: { properties: { plan: { type: "string", enum: ["free", "pro"], required: true } } } } };
      return void setTimeout(() => response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(schema)), options.schemaDelayMs ?? 0);
    }
    if (path === "/page.html") return void response.writeHead(200, headers("text/html")).end(page("page", `<a id="away" href="/other.html" data-track="left_page">Away</a><button id="button" data-track="csp_event" data-track-n="7">Go</button>${options.body ?? ""}`));
    if (path === "/other.html") return void response.writeHead(200, headers("text/html")).end(page("other", "<p>other</p>"));
    response.writeHead(404).end();
  });
  const sockets = trackSockets(server);
  const port = await listen(server);
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/**
 * A fresh collector for each test of the calling spec, and the site that test starts (if any), both closed after it.
 * `use.site = await startSite(...)` registers a site for closing.
 */
export function collectorPerTest() {
  const use: { collector: Collector; site: Site | null } = { collector: undefined as unknown as Collector, site: null };
  test.beforeEach(async () => {
    use.collector = await startCollector();
  });
  test.afterEach(async () => {
    await Promise.all([use.collector.close(), use.site?.close()]);
    use.site = null;
  });
  return use;
}
