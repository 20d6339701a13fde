// reftrack-collector: receives batches (CONTRACT section 6), checks each event with the browser's own schema module,
// stores it durably (SQLite, or PostgreSQL shared by several collectors), and serves it back to its owners. This module composes what the collector guarantees:
// ingest (ingest.ts), who may do what (auth.ts, clients.ts), reads (read.ts), what its logs hold (logging.ts).
import compress from "@fastify/compress";
import rateLimit from "@fastify/rate-limit";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { EventChecker } from "../schema.js";
import { registerIngest } from "./ingest.js";
import { pathOnly } from "./logging.js";
import { registerReads } from "./read.js";
import type { EventStore } from "./store.js";

export const BODY_LIMIT = 256 * 1024;

export interface CollectorOptions {
  store: EventStore;
  checker: EventChecker;
  /** Whether a browser origin may send. Requests without an Origin (servers, curl) are not browsers. */
  allowOrigin: (origin: string) => boolean;
  /** Batches per minute per client address. */
  rateLimit: number;
  /** Reads per minute per client address (120). */
  readRateLimit?: number;
  /** Keys of the site's servers (`REFTRACK_SERVER_KEYS`): their batches may carry server events, unthrottled. */
  serverKeys?: readonly string[];
  /** `REFTRACK_READ_TOKEN`: what reading stored events takes. None: every read is refused. */
  readTokens?: readonly string[];
  /** Behind proxies: how many, or their addresses (`--trust-proxy`); the client address is the one they saw. */
  trustProxy?: number | string[] | false;
  logger?: FastifyServerOptions["logger"];
  /** Called after a batch is stored, so the forwarder can start at once. */
  onStored?: () => void;
  /** Hooks or routes registered before the collector's own (the demo adds its site and its outage switch). */
  configure?: (app: FastifyInstance) => void | Promise<void>;
}

/** `--allow-origin` values: exact origins, or `http://localhost:*` style patterns with a port wildcard. */
export function originMatcher(patterns: readonly string[]): (origin: string) => boolean {
  const exact = new Set(patterns.filter((pattern) => !pattern.endsWith(":*")));
  const anyPort = patterns.filter((pattern) => pattern.endsWith(":*")).map((pattern) => pattern.slice(0, -2));
  return (origin) => exact.has(origin) || anyPort.some((prefix) => origin === prefix || new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+$`).test(origin));
}

/** `compute`'s value, computed again only once `ms` have passed since the last time; callers meanwhile share it. */
function cached<T>(ms: number, compute: () => Promise<T>): () => Promise<T> {
  let value: { at: number; value: Promise<T> } | null = null;
  return () => {
    const now = Date.now();
    if (!value || now - value.at >= ms) {
      const fresh = { at: now, value: compute() };
      // A failed count is not kept: the next request asks the database again.
      fresh.value.catch(() => {
        if (value === fresh) value = null;
      });
      value = fresh;
    }
    return value.value;
  };
}

/** N proxies: the address the Nth hop from us saw (fastify's own reading of a number, typed as a function). */
const trustProxySetting = (trust: number | string[] | false) => (typeof trust === "number" ? (_address: string, hop: number) => hop < trust : trust);

export async function buildCollector(options: CollectorOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT,
    // A client that trickles its request keeps a connection and a worker busy: cut it off.
    requestTimeout: 10_000,
    connectionTimeout: 15_000,
    return503OnClosing: true,
    trustProxy: trustProxySetting(options.trustProxy ?? false),
    // A query parameter the read API does not know is a 400, not silently dropped: `?custmer=` must not list everyone.
    ajv: { customOptions: { removeAdditional: false } },
  });

  // fastify's own not-found answer logs the whole URL, query string included: ours logs and echoes the path only.
  app.setNotFoundHandler((request, reply) => {
    request.log.info(`no route: ${request.method} ${pathOnly(request.url)}`);
    return reply.code(404).send({ error: "Not Found", message: "No such route: POST /v1/batch, GET /v1/events, GET /healthz" });
  });

  // Internals (a database's error code, a stack) never reach a response; a client's own mistake is explained.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status < 500) return reply.code(status).send({ error: error.name === "FastifyError" ? "Bad Request" : error.name, message: error.message });
    request.log.error(`request failed: ${error.code ?? error.name}`);
    return reply.code(status).send({ error: "Internal Server Error", message: "Something went wrong on the collector; try again later" });
  });

  // A browser on a foreign origin is refused outright, not merely left without CORS headers.
  app.addHook("onRequest", async (request, reply) => {
    const origin = request.headers.origin;
    if (origin && !options.allowOrigin(origin)) return reply.code(403).send({ error: "Forbidden", message: `Origin ${origin} is not allowed` });
  });
  await app.register(rateLimit, { global: false });
  // Gzip request bodies; bodyLimit applies to what they inflate to, so a small bomb is still a 413.
  await app.register(compress, { global: true, requestEncodings: ["gzip", "deflate"], encodings: ["gzip"] });

  await options.configure?.(app);

  await registerIngest(app, {
    store: options.store,
    checker: options.checker,
    allowOrigin: options.allowOrigin,
    rateLimit: options.rateLimit,
    serverKeys: options.serverKeys ?? [],
    unavailableRetrySeconds: 30,
    ...(options.onStored ? { onStored: options.onStored } : {}),
  });
  registerReads(app, { store: options.store, readTokens: options.readTokens ?? [], rateLimit: options.readRateLimit ?? 120 });
  // Counts only, nothing about anyone: load balancers and uptime checks read it without a token.
  // Counts take a scan of the table: computed at most once a second, however often they are asked for.
  const stats = cached(1000, () => options.store.stats());
  app.get("/healthz", async (request, reply) => {
    reply.header("Cache-Control", "no-store");
    try {
      return reply.send({ ok: true, ...(await stats()) });
    } catch (error) {
      // A load balancer reads this: a collector that cannot reach its database takes no traffic.
      request.log.error(`healthz: the database did not answer (${(error as { code?: string }).code ?? (error as Error).name})`);
      return reply.code(503).send({ ok: false, error: "The database did not answer" });
    }
  });
  return app;
}
