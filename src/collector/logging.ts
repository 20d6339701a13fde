// What the collector's logs may hold: methods, paths, statuses, timings and counts. Never an email, a name, a
// customer id, a metadata value, a query string (the read API's filters name customers) or a secret.
import type { FastifyServerOptions } from "fastify";

interface LoggedRequest {
  method?: string;
  url?: string;
  ip?: string;
}

/** A URL without its query string: `/v1/events?customer=alex@domain.io` is logged as `/v1/events`. */
export const pathOnly = (url: string | undefined): string => (url ?? "").split("?")[0] ?? "";

/** pino options for fastify: requests reduced to method and path, and any stray personal field redacted. */
export function loggerOptions(level: string): Exclude<FastifyServerOptions["logger"], boolean | undefined> {
  return {
    level,
    serializers: {
      req: (request: LoggedRequest) => ({ method: request.method, url: pathOnly(request.url) }),
      // A malformed request's error carries the raw bytes of the request (`rawPacket`): headers, tokens, query.
      err: (error: { name?: string; code?: string; message?: string; statusCode?: number }) => ({
        type: error.name ?? "Error",
        message: (error.message ?? "").slice(0, 200),
        stack: "",
        code: error.code,
        statusCode: error.statusCode,
      }),
    },
    // Belt and braces: should an object with these keys ever reach a log call, pino writes [redacted].
    redact: {
      paths: ["*.email", "*.name", "*.source_id", "*.customer", "*.metadata", "*.authorization", "*.headers.authorization", "*.headers.cookie", "req.headers"],
      censor: "[redacted]",
    },
  };
}
