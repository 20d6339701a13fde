// The demo: reftrack-collector (src/collector) with the demo site in front of it, the built bundle at /reftrack.js,
// the demo's event schema, and a switch on the live view that simulates an endpoint outage.
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyServerOptions } from "fastify";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { openDb } from "../src/collector/db.js";
import { buildCollector, originMatcher } from "../src/collector/server.js";
import { createEventStore } from "../src/collector/store.js";
import { compileSchema } from "../src/schema.js";

export interface DemoServerOptions {
  /** Folder of the demo pages and their event schema (`events.schema.json`). */
  siteDir: string;
  /** Folder holding the built `reftrack.js`. */
  distDir: string;
  /** SQLite database; in memory unless given. */
  dbPath?: string;
  logger?: FastifyServerOptions["logger"];
}

export async function createDemoServer(options: DemoServerOptions): Promise<FastifyInstance> {
  const db = openDb(options.dbPath ?? ":memory:");
  // "Simulate an outage" on the live view: batches get 503 with Retry-After until then.
  let outageUntil = 0;
  const app = await buildCollector({
    store: createEventStore(db, { forwarding: false }),
    checker: compileSchema(JSON.parse(readFileSync(resolve(options.siteDir, "events.schema.json"), "utf8"))),
    allowOrigin: originMatcher(["http://localhost:*", "http://127.0.0.1:*"]),
    rateLimit: 600,
    logger: options.logger ?? false,
    configure(site) {
      site.register(fastifyStatic, { root: resolve(options.siteDir), extensions: ["html"] });
      site.get("/reftrack.js", (_request, reply) => reply.sendFile("reftrack.js", resolve(options.distDir)));
      site.get("/demo/outage", async () => ({ until: outageUntil }));
      site.post<{ Body: { seconds?: unknown } }>("/demo/outage", async (request) => {
        const seconds = Math.min(Math.max(Number(request.body?.seconds) || 30, 1), 120);
        outageUntil = Date.now() + seconds * 1000;
        return { until: outageUntil };
      });
      site.addHook("onRequest", async (request, reply) => {
        const left = Math.ceil((outageUntil - Date.now()) / 1000);
        if (left > 0 && request.method === "POST" && request.url === "/v1/batch") {
          return reply.code(503).header("Retry-After", String(left)).send({ error: "Simulated outage" });
        }
      });
    },
  });
  app.addHook("onClose", async () => db.close());
  return app;
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "8787" }, host: { type: "string", default: "127.0.0.1" }, db: { type: "string" } } });
  const root = resolve(fileURLToPath(import.meta.url), "../..");
  const app = await createDemoServer({
    siteDir: resolve(root, "demo"),
    distDir: resolve(root, "dist"),
    dbPath: values.db,
    logger: process.env.CI !== "true" && !process.env.QUIET ? { level: "info" } : false,
  });
  const address = await app.listen({ port: Number(values.port), host: values.host });
  console.log(`\n  reftrack demo: ${address}/?ref=NRY-01\n  received events, live: ${address}/events.html\n`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
