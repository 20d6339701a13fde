// The demo's local collection endpoint: serves the demo site and the bundle, receives batches (CONTRACT section 6),
// checks every event with the same schema module as the browser, and shows what arrived. Events live in memory;
// the production collector (SQLite, rate limits, forwarding) grows out of this.
import fastifyStatic from "@fastify/static";
import Fastify, { type FastifyInstance } from "fastify";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { compileSchema, type Issue } from "../src/schema.js";
import { checkWireEvent, parseBatch } from "../src/wire.js";

export interface ReceivedEvent {
  received_at: string;
  status: "accepted" | "rejected";
  issues: Issue[];
  event: Record<string, unknown>;
}

export interface DemoServerOptions {
  /** Folder of the demo pages and their event schema (`events.schema.json`). */
  siteDir: string;
  /** Folder holding the built `reftrack.js`. */
  distDir: string;
  logger?: boolean;
}

const BODY_LIMIT = 256 * 1024;

export function createDemoServer(options: DemoServerOptions): FastifyInstance {
  const checker = compileSchema(JSON.parse(readFileSync(resolve(options.siteDir, "events.schema.json"), "utf8")));
  const received: ReceivedEvent[] = [];
  const seen = new Set<string>();
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: BODY_LIMIT });

  // The browser sends JSON as text/plain to avoid a CORS preflight.
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser("text/plain", { parseAs: "string" }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (error) {
      done(Object.assign(new Error(`Body is not JSON: ${(error as Error).message}`), { statusCode: 400 }), undefined);
    }
  });

  app.register(fastifyStatic, { root: resolve(options.siteDir), extensions: ["html"] });
  app.get("/reftrack.js", (_request, reply) => reply.sendFile("reftrack.js", resolve(options.distDir)));
  app.get("/healthz", async () => ({ ok: true }));

  // "Simulate an outage" on the live view: batches get 503 with Retry-After until then.
  let outageUntil = 0;
  app.get("/demo/outage", async () => ({ until: outageUntil }));
  app.post<{ Body: { seconds?: unknown } }>("/demo/outage", async (request) => {
    const seconds = Math.min(Math.max(Number(request.body?.seconds) || 30, 1), 120);
    outageUntil = Date.now() + seconds * 1000;
    return { until: outageUntil };
  });

  app.post("/v1/batch", async (request, reply) => {
    const outageLeft = Math.ceil((outageUntil - Date.now()) / 1000);
    if (outageLeft > 0) return reply.code(503).header("Retry-After", String(outageLeft)).send({ error: "Simulated outage" });
    const parsed = parseBatch(request.body);
    if ("issues" in parsed) return reply.code(400).send({ error: "Bad batch", issues: parsed.issues });
    let accepted = 0;
    let duplicates = 0;
    const rejected: { id: string | null; issues: Issue[] }[] = [];
    const receivedAt = new Date().toISOString();
    for (const item of parsed.batch) {
      const checked = checkWireEvent(item, checker);
      if (checked.id !== null && seen.has(checked.id)) {
        duplicates++;
        continue;
      }
      if (checked.id !== null) seen.add(checked.id);
      const status = checked.issues.length === 0 ? "accepted" : "rejected";
      received.push({ received_at: receivedAt, status, issues: checked.issues, event: item as Record<string, unknown> });
      if (status === "accepted") accepted++;
      else rejected.push(checked);
    }
    const allRejected = rejected.length > 0 && accepted === 0 && duplicates === 0;
    return reply.code(allRejected ? 422 : 200).send({ accepted, duplicates, rejected });
  });

  app.get<{ Querystring: Record<string, string | undefined> }>("/v1/events", async (request) => {
    const { event, referral, customer, anonymous_id: anonymousId, status } = request.query;
    const limit = Math.min(Math.max(Number(request.query.limit) || 100, 1), 1000);
    const matches = received.filter((item) => {
      const body = item.event as { event?: string; referral?: { code?: string }; customer?: { source_id?: string }; anonymous_id?: string };
      return (
        (!event || body.event === event) &&
        (!referral || body.referral?.code === referral) &&
        (!customer || body.customer?.source_id === customer) &&
        (!anonymousId || body.anonymous_id === anonymousId) &&
        (!status || item.status === status)
      );
    });
    return { total: matches.length, events: matches.slice(-limit).reverse() };
  });

  return app;
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "8787" }, host: { type: "string", default: "127.0.0.1" } } });
  const root = resolve(fileURLToPath(import.meta.url), "../..");
  const app = createDemoServer({ siteDir: resolve(root, "demo"), distDir: resolve(root, "dist"), logger: process.env.CI !== "true" && !process.env.QUIET });
  const address = await app.listen({ port: Number(values.port), host: values.host });
  console.log(`\n  reftrack demo: ${address}/?ref=NRY-01\n  received events, live: ${address}/events.html\n`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
