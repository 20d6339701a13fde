// Reading what the collector holds: only its owners, with REFTRACK_READ_TOKEN. Stored events carry customers'
// emails and names, so nothing here is for browsers: no CORS headers, nothing cached, and a rate limit.
import type { FastifyInstance } from "fastify";
import { bearerToken, secretMatcher } from "./auth.js";
import type { EventStore } from "./store.js";

export interface ReadOptions {
  store: EventStore;
  /** `REFTRACK_READ_TOKEN`; none: every read is refused. */
  readTokens: readonly string[];
  /** Reads per minute per client address. */
  rateLimit: number;
}

const REFUSED = {
  off: "Reading is off: set REFTRACK_READ_TOKEN in the collector's environment (openssl rand -hex 32), then send it as Authorization: Bearer <token>",
  wrong: "This read needs Authorization: Bearer <token>, with the collector's REFTRACK_READ_TOKEN",
};

/** Stored times are compared as ISO text: beyond year 9999 the text grows a sign and compares wrongly. */
const LATEST = Date.parse("9999-12-31T23:59:59.999Z");

interface ListQuery {
  event?: string;
  referral?: string;
  customer?: string;
  since?: string;
  before?: number;
  limit?: number;
}

export function registerReads(app: FastifyInstance, options: ReadOptions): void {
  const isReadToken = secretMatcher(options.readTokens);
  const config = { rateLimit: { max: options.rateLimit, timeWindow: 60_000 } };

  const guard = async (request: { headers: { authorization?: string | undefined } }, reply: { code(status: number): { send(body: unknown): unknown }; header(name: string, value: string): unknown }) => {
    reply.header("Cache-Control", "no-store");
    const token = bearerToken(request.headers.authorization);
    if (options.readTokens.length === 0) return reply.code(401).send({ error: "Unauthorized", message: REFUSED.off });
    if (typeof token !== "string" || !isReadToken(token)) return reply.code(401).send({ error: "Unauthorized", message: REFUSED.wrong });
  };

  // fastify checks the query with its own JSON Schema validator: a repeated parameter, an unknown one, a `since`
  // that is not an RFC 3339 date-time or a `before` that is not a number all get a 400 saying which.
  app.get<{ Querystring: ListQuery }>(
    "/v1/events",
    {
      config,
      // After the rate limit's own onRequest hook: refused reads count against the address too.
      preHandler: guard,
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
    async (request, reply) => {
      const { event, referral, customer, since, before, limit } = request.query;
      // RFC 3339 allows a leap second (23:59:60) that JavaScript dates cannot hold: not an instant we can compare.
      const sinceTime = since === undefined ? undefined : Date.parse(since);
      if (sinceTime !== undefined && !(sinceTime >= 0 && sinceTime <= LATEST)) {
        return reply.code(400).send({ error: "Bad Request", message: "querystring/since must be a date-time JavaScript can compare, such as 2026-11-26T10:00:00Z" });
      }
      return options.store.list({ event, referral, customer, since: sinceTime === undefined ? undefined : new Date(sinceTime).toISOString(), before, limit: limit ?? 100 });
    },
  );
}
