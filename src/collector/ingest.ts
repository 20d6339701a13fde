// POST /v1/batch (CONTRACT section 6): browsers and the site's server send events; each is checked with the browser's
// own schema module, and the answer goes out only after the store committed.
import cors from "@fastify/cors";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { EventChecker, Issue } from "../schema.js";
import { capIssues, checkWireEvent, MAX_ISSUES, parseBatch } from "../wire.js";
import { batchCaller, secretMatcher, type Caller } from "./auth.js";
import { clientKey } from "./clients.js";
import type { EventStore, IncomingEvent } from "./store.js";

export interface IngestOptions {
  store: EventStore;
  checker: EventChecker;
  allowOrigin: (origin: string) => boolean;
  /** Batches per minute per client address (an IPv6 client: per /64). */
  rateLimit: number;
  /** `REFTRACK_SERVER_KEYS`: batches with one of these may carry server events, and skip the per-address limit. */
  serverKeys: readonly string[];
  /** How long a client should wait when the database cannot take a write (full disk, I/O error). */
  unavailableRetrySeconds: number;
  onStored?: () => void;
}

const ID_TAKEN = "is already the id of a different event: give every event its own unguessable id (a random UUID)";

const senderOf = (caller: Caller) => ("sender" in caller ? caller.sender : "browser");

/**
 * Registered in its own fastify context under its own prefix: CORS and the text/plain parser belong to this route
 * alone (without the prefix, the context would also answer the 404s of every other path, with CORS headers).
 */
export async function registerIngest(app: FastifyInstance, options: IngestOptions): Promise<void> {
  await app.register(async (scope) => {
    await scope.register(cors, {
      origin: (origin, callback) => callback(null, !origin || options.allowOrigin(origin)),
      methods: ["POST"],
      exposedHeaders: ["Retry-After"],
      // The snippet's text/plain POST needs no preflight, and the plugin's OPTIONS route would answer for every path,
      // reads included: none.
      preflight: false,
    });
    // The browser sends JSON as text/plain to avoid a CORS preflight. A parse error names the position, never the
    // text: the body may hold a customer's email, and error messages reach logs.
    scope.removeContentTypeParser("text/plain");
    scope.addContentTypeParser("text/plain", { parseAs: "string" }, (_request, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch (error) {
        const position = /position (\d+)/.exec((error as Error).message)?.[1];
        done(Object.assign(new Error(`Body is not JSON${position ? ` (at position ${position})` : ""}`), { statusCode: 400 }), undefined);
      }
    });
    registerBatchRoute(scope, options);
  }, { prefix: "/v1/batch" });
}

function registerBatchRoute(app: FastifyInstance, options: IngestOptions): void {
  const callerOf = batchCaller(secretMatcher(options.serverKeys), options.serverKeys.length > 0);
  // Read once per request: the rate limit and the handler both ask.
  const callers = new WeakMap<object, Caller>();
  const caller = (request: FastifyRequest): Caller => {
    let known = callers.get(request.raw);
    if (!known) callers.set(request.raw, (known = callerOf(request.headers.authorization)));
    return known;
  };

  app.post(
    "/",
    {
      config: {
        rateLimit: {
          max: options.rateLimit,
          timeWindow: 60_000,
          keyGenerator: (request) => clientKey(request.ip),
          // A site's servers are few addresses sending many customers' conversions: the per-address limit is for browsers.
          allowList: (request) => senderOf(caller(request)) === "server",
        },
      },
    },
    async (request, reply) => {
      // Refused here, after the rate limit: guessing keys costs a client its allowance like any other request.
      const who = caller(request);
      if ("refused" in who) return reply.code(401).send({ error: "Unauthorized", message: who.refused });
      const sender = senderOf(who);
      const parsed = parseBatch(request.body);
      if ("issues" in parsed) return reply.code(400).send({ error: "Bad batch", issues: capIssues(parsed.issues) });
      const valid: IncomingEvent[] = [];
      const rejected: { id: string | null; issues: Issue[] }[] = [];
      const warnings: { id: string; issues: Issue[] }[] = [];
      const now = Date.now();
      for (const item of parsed.batch) {
        const checked = checkWireEvent(item, options.checker, sender, now, parsed.sentAt);
        if (!checked.event) {
          // Past the first few, one issue each: the answer never grows with a hostile batch.
          rejected.push({ id: checked.id, issues: capIssues(checked.issues, rejected.length < 20 ? MAX_ISSUES : 1) });
          continue;
        }
        valid.push({ event: checked.event, oncePerCustomer: options.checker.oncePerCustomer(checked.event.event) });
        if (checked.warnings.length > 0) warnings.push({ id: checked.event.id, issues: capIssues(checked.warnings) });
      }
      // A count only: ids, paths and messages are the client's to write, and may be personal.
      if (rejected.length > 0) request.log.warn(`rejected events in a batch: ${rejected.length} of ${parsed.batch.length}`);
      if (valid.length === 0) return reply.code(422).send({ accepted: 0, duplicates: 0, rejected });
      let result: { stored: number; duplicates: number; takenIds: string[] };
      try {
        // Written and synced before the answer: a 2xx means the events are on disk (SQLite) or committed (PostgreSQL).
        result = await options.store.storeBatch(valid, new Date(now).toISOString(), sender);
      } catch (error) {
        // A full disk or a failing write: the browser keeps the events and retries. What failed stays in our log.
        request.log.error(`batch not stored: ${(error as { code?: string }).code ?? (error as Error).name}`);
        return reply
          .code(503)
          .header("Retry-After", String(options.unavailableRetrySeconds))
          .send({ error: "Service Unavailable", message: "The events could not be stored right now; send them again later" });
      }
      options.onStored?.();
      for (const id of result.takenIds) rejected.push({ id, issues: [{ path: "id", message: ID_TAKEN }] });
      return { accepted: result.stored, duplicates: result.duplicates, rejected, ...(warnings.length > 0 ? { warnings } : {}) };
    },
  );
}
