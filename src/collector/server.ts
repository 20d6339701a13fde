// reftrack-collector: receives batches (CONTRACT section 6), checks each event with the browser's own schema module,
// stores it durably in SQLite, and serves it back. fastify's own plugins do CORS, rate limits and gzip bodies.
import compress from "@fastify/compress";
import cors from "@fastify/cors";
import rateLimit from "@fastify/rate-limit";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { EventChecker, Issue } from "../schema.js";
import { checkWireEvent, parseBatch } from "../wire.js";
import { batchCaller, secretMatcher, type Caller } from "./auth.js";
import type { EventStore, IncomingEvent } from "./store.js";

export const BODY_LIMIT = 256 * 1024;

export interface CollectorOptions {
  store: EventStore;
  checker: EventChecker;
  /** Whether a browser origin may send and read. Requests without an Origin (servers, curl) are not browsers. */
  allowOrigin: (origin: string) => boolean;
  /** Batches per minute per client address. */
  rateLimit: number;
  /** Keys of the site's servers (`REFTRACK_SERVER_KEYS`): their batches may carry server events, unthrottled. */
  serverKeys?: readonly string[];
  /** Behind a proxy: the client address comes from X-Forwarded-For. */
  trustProxy?: boolean;
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

const senderOf = (caller: Caller) => ("sender" in caller ? caller.sender : "browser");

export async function buildCollector(options: CollectorOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT,
    // A client that trickles its request keeps a connection and a worker busy: cut it off.
    requestTimeout: 10_000,
    connectionTimeout: 15_000,
    return503OnClosing: true,
    trustProxy: options.trustProxy ?? false,
  });

  // A browser on a foreign origin is refused outright, not merely left without CORS headers.
  app.addHook("onRequest", async (request, reply) => {
    const origin = request.headers.origin;
    if (origin && !options.allowOrigin(origin)) return reply.code(403).send({ error: "Forbidden", message: `Origin ${origin} is not allowed` });
  });
  await app.register(cors, { origin: (origin, callback) => callback(null, !origin || options.allowOrigin(origin)), methods: ["GET", "POST"], exposedHeaders: ["Retry-After"], maxAge: 86_400 });
  await app.register(rateLimit, { global: false });
  // Gzip request bodies; bodyLimit applies to what they inflate to, so a small bomb is still a 413.
  await app.register(compress, { global: true, requestEncodings: ["gzip", "deflate"], encodings: ["gzip"] });

  await options.configure?.(app);

  // The browser sends JSON as text/plain to avoid a CORS preflight.
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser("text/plain", { parseAs: "string" }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (error) {
      done(Object.assign(new Error(`Body is not JSON: ${(error as Error).message}`), { statusCode: 400 }), undefined);
    }
  });

  const serverKeys = options.serverKeys ?? [];
  const callerOf = batchCaller(secretMatcher(serverKeys), serverKeys.length > 0);
  // Read once per request: the rate limit and the handler both ask.
  const callers = new WeakMap<object, Caller>();
  const caller = (request: { raw: object; headers: { authorization?: string | undefined } }): Caller => {
    let known = callers.get(request.raw);
    if (!known) callers.set(request.raw, (known = callerOf(request.headers.authorization)));
    return known;
  };

  app.post(
    "/v1/batch",
    {
      // A site's servers are few addresses sending many customers' conversions: the per-address limit is for browsers.
      config: { rateLimit: { max: options.rateLimit, timeWindow: 60_000, allowList: (request) => senderOf(caller(request)) === "server" } },
      onRequest: async (request, reply) => {
        const who = caller(request);
        if ("refused" in who) return reply.code(401).send({ error: "Unauthorized", message: who.refused });
      },
    },
    async (request, reply) => {
      const sender = senderOf(caller(request));
      const parsed = parseBatch(request.body);
      if ("issues" in parsed) return reply.code(400).send({ error: "Bad batch", issues: parsed.issues });
      const valid: IncomingEvent[] = [];
      const rejected: { id: string | null; issues: Issue[] }[] = [];
      const warnings: { id: string; issues: Issue[] }[] = [];
      for (const item of parsed.batch) {
        const checked = checkWireEvent(item, options.checker, sender);
        if (!checked.event) {
          rejected.push({ id: checked.id, issues: checked.issues });
          continue;
        }
        valid.push({ event: checked.event, oncePerCustomer: options.checker.oncePerCustomer(checked.event.event) });
        if (checked.warnings.length > 0) warnings.push({ id: checked.event.id, issues: checked.warnings });
      }
      if (valid.length === 0) return reply.code(422).send({ accepted: 0, duplicates: 0, rejected });
      // Written and synced before the answer: a 2xx means the events are on disk.
      const { stored, duplicates } = options.store.storeBatch(valid, new Date().toISOString(), sender);
      if (rejected.length > 0) request.log.warn({ rejected }, "rejected events in a batch");
      options.onStored?.();
      return { accepted: stored, duplicates, rejected, ...(warnings.length > 0 ? { warnings } : {}) };
    },
  );

  // fastify checks the query with its own JSON Schema validator: a repeated parameter, an unknown one, a `since`
  // that is not an RFC 3339 date-time or a `before` that is not a number all get a 400 saying which.
  app.get<{ Querystring: { event?: string; referral?: string; customer?: string; since?: string; before?: number; limit?: number } }>(
    "/v1/events",
    {
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            event: { type: "string", maxLength: 300 },
            referral: { type: "string", maxLength: 64 },
            customer: { type: "string", maxLength: 200 },
            since: { type: "string", format: "date-time" },
            before: { type: "integer", minimum: 1 },
            limit: { type: "integer", minimum: 1, maximum: 500, default: 100 },
          },
        },
      },
    },
    async (request) => {
      const { event, referral, customer, since, before, limit } = request.query;
      return options.store.list({ event, referral, customer, since: since === undefined ? undefined : new Date(since).toISOString(), before, limit: limit ?? 100 });
    },
  );

  app.get("/healthz", async () => ({ ok: true, ...options.store.stats() }));
  return app;
}
