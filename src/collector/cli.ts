// `npx reftrack-collector`: the collection endpoint as a process. Defaults serve the demo with no flags.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { compileSchema, schemaless, type EventChecker } from "../schema.js";
import { VOUCHERIFY_API } from "../voucherify.js";
import { parseSecrets } from "./auth.js";
import { parseTrustProxy } from "./clients.js";
import { loggerOptions } from "./logging.js";
import { startForwarder } from "./forwarder.js";
import { isPostgresUrl, redactUrl } from "./postgres-db.js";
import { buildCollector, originMatcher } from "./server.js";
import { openEventStore } from "./store.js";

const HELP = `reftrack-collector: receives reftrack batches, checks and stores them, and forwards them to Voucherify.

  --port N            port to listen on (8787; 0 picks a free one)
  --host H            address to listen on (127.0.0.1; 0.0.0.0 for every interface)
  --db PATH|URL       where events are kept: a SQLite file for one collector (./reftrack.db), or
                      postgres://user@host:5432/db for a PostgreSQL database several collectors share.
                      Better from the environment, REFTRACK_DB (or DATABASE_URL, when it is a postgres://
                      URL), so that no password shows in ps
  --db-pool N         PostgreSQL: connections this collector opens at most (10)
  --schema PATH       event schema JSON to check events against (none: any event, JSON metadata)
  --allow-origin O    a browser origin allowed to send; repeatable; "http://localhost:*" allows any port
                      (default: http://localhost:* and http://127.0.0.1:*, for local development)
  --rate-limit N      batches per minute per client address, an IPv6 client by its /64 (1200)
  --retain-days N     delete events received more than N days ago, once forwarded (90)
  --trust-proxy P     behind proxies: how many (1) or their addresses (10.0.0.1,10.0.1.0/24); the client
                      address is the one the nearest trusted proxy saw in X-Forwarded-For (else every visitor
                      would share the proxy's rate limit)

The site's server sends conversions with Authorization: Bearer <key>, a key of REFTRACK_SERVER_KEYS
(comma-separated, at least 24 characters each; from the environment, so no key shows in ps).
Reading stored events (GET /v1/events) takes Authorization: Bearer <token>, the token of
REFTRACK_READ_TOKEN (comma-separated for rotation); without it every read is refused.

Forwarding to Voucherify starts when VOUCHERIFY_APP_ID and VOUCHERIFY_SECRET_KEY are set
(VOUCHERIFY_API_URL defaults to https://api.voucherify.io).`;

export interface CollectorFlags {
  port: number;
  host: string;
  /** From --db; when absent, main() reads REFTRACK_DB, then DATABASE_URL. */
  db: string | undefined;
  dbPool: number;
  schema: string | undefined;
  allowOrigins: string[];
  rateLimit: number;
  trustProxy: number | string[] | false;
  retainDays: number;
}

/**
 * A visitor's browser sends at most one batch per flush (2 s by default) plus one as a page goes away: about 30 a
 * minute at the very most, a few per page view as a rule. 1,200 a minute lets 40 such visitors flush non-stop behind
 * one address (an office, a carrier's NAT), hundreds of ordinary ones, while a client sending thousands is slowed.
 */
export const DEFAULT_RATE_LIMIT = 1200;
/** A 30-day attribution window, then the weeks a reward waits on refunds and disputes; no longer than that. */
export const DEFAULT_RETAIN_DAYS = 90;
const HOUR = 3_600_000;

export function parseFlags(args: string[]): CollectorFlags | "help" {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "8787" },
      host: { type: "string", default: "127.0.0.1" },
      db: { type: "string" },
      "db-pool": { type: "string", default: "10" },
      schema: { type: "string" },
      "allow-origin": { type: "string", multiple: true },
      "rate-limit": { type: "string", default: String(DEFAULT_RATE_LIMIT) },
      "retain-days": { type: "string", default: String(DEFAULT_RETAIN_DAYS) },
      "trust-proxy": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return "help";
  const port = Number(values.port);
  const rateLimit = Number(values["rate-limit"]);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`--port must be a port number, not ${values.port}`);
  const retainDays = Number(values["retain-days"]);
  if (!Number.isInteger(rateLimit) || rateLimit < 1) throw new Error(`--rate-limit must be a whole number of batches per minute, not ${values["rate-limit"]}`);
  const dbPool = Number(values["db-pool"]);
  if (!Number.isInteger(dbPool) || dbPool < 1 || dbPool > 1000) throw new Error(`--db-pool must be a whole number of connections from 1 to 1000, not ${values["db-pool"]}`);
  if (!Number.isInteger(retainDays) || retainDays < 1 || retainDays > 36_500) throw new Error(`--retain-days must be a whole number of days from 1 to 36500, not ${values["retain-days"]}`);
  return {
    port,
    host: values.host,
    db: values.db,
    dbPool,
    schema: values.schema,
    allowOrigins: (values["allow-origin"] ?? ["http://localhost:*", "http://127.0.0.1:*"]).map(checkOrigin),
    rateLimit,
    trustProxy: parseTrustProxy(values["trust-proxy"]),
    retainDays,
  };
}

/**
 * An origin is what a browser sends in `Origin`: scheme, host and port, nothing else. `https://www.example.com/`
 * (a slash) or `www.example.com` (no scheme) would match no browser at all, so they stop the start instead.
 */
export function checkOrigin(value: string): string {
  if (/^https?:\/\/([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(:(\d{1,5}|\*))?$/.test(value)) return value;
  const hint = /^https?:\/\/[^/]+\/$/.test(value) ? value.slice(0, -1) : /^[\w.-]+(:\d+)?$/.test(value) ? `https://${value}` : "https://www.example.com";
  throw new Error(`--allow-origin takes an origin as browsers send it: scheme and host, an optional port, no path or trailing slash; "${value}" is not one (did you mean ${hint}?)`);
}

/** The schema file, or an error naming the file and, for broken JSON, the line and column. */
export function loadSchema(path: string): EventChecker {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`--schema ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = Number(/position (\d+)/.exec(message)?.[1] ?? Number.NaN);
    const where = Number.isNaN(position) ? "" : ` at line ${lineOf(text, position)}, column ${position - text.lastIndexOf("\n", position - 1)}`;
    throw new Error(`--schema ${path} is not valid JSON${where}: ${message.replace(/ in JSON at position \d+.*$/, "")}`);
  }
  try {
    return compileSchema(document);
  } catch (error) {
    throw new Error(`--schema ${path}: ${(error as Error).message}`);
  }
}

/** `--db`, else `REFTRACK_DB`, else `DATABASE_URL` when it names PostgreSQL (it may belong to another program), else the file. */
export function databaseLocation(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag) return flag;
  if (env.REFTRACK_DB) return env.REFTRACK_DB;
  if (env.DATABASE_URL && isPostgresUrl(env.DATABASE_URL)) return env.DATABASE_URL;
  return "./reftrack.db";
}

const lineOf = (text: string, position: number) => text.slice(0, position).split("\n").length;

export async function main(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const flags = parseFlags(args);
  if (flags === "help") return void console.log(HELP);
  // Whatever the collector creates (the database, its -wal and -shm) is its own user's alone.
  process.umask(0o077);
  const serverKeys = parseSecrets("REFTRACK_SERVER_KEYS", env.REFTRACK_SERVER_KEYS);
  const readTokens = parseSecrets("REFTRACK_READ_TOKEN", env.REFTRACK_READ_TOKEN);
  const checker = flags.schema ? loadSchema(flags.schema) : schemaless;
  const location = databaseLocation(flags.db, env);
  const forwarding = Boolean(env.VOUCHERIFY_APP_ID && env.VOUCHERIFY_SECRET_KEY);
  const store = await openEventStore(location, {
    forwarding,
    poolSize: flags.dbPool,
    // The server restarted or a connection was cut: the pool opens new ones; a request in flight got a 503.
    onIdleError: (error) => (env.QUIET ? undefined : console.error(`reftrack-collector: a database connection was lost (${(error as { code?: string }).code ?? error.name})`)),
  });
  let forwarder: ReturnType<typeof startForwarder> | null = null;
  const app = await buildCollector({
    store,
    checker,
    allowOrigin: originMatcher(flags.allowOrigins),
    rateLimit: flags.rateLimit,
    serverKeys,
    readTokens,
    trustProxy: flags.trustProxy,
    logger: env.QUIET ? false : loggerOptions(env.LOG_LEVEL ?? "info"),
    onStored: () => forwarder?.wake(),
  });
  if (forwarding) {
    forwarder = startForwarder({
      store,
      apiUrl: env.VOUCHERIFY_API_URL || VOUCHERIFY_API,
      appId: env.VOUCHERIFY_APP_ID ?? "",
      secretKey: env.VOUCHERIFY_SECRET_KEY ?? "",
      log: (level, message) => (env.QUIET ? undefined : app.log[level](message)),
    });
  }
  const retain = async () => {
    // An hourly chore: a busy or full database makes it wait for the next hour, never stops the collector.
    try {
      const removed = await store.deleteOlderThan(new Date(Date.now() - flags.retainDays * 24 * HOUR).toISOString());
      if (removed > 0 && !env.QUIET) app.log.info(`retention: deleted ${removed} event(s) older than ${flags.retainDays} days`);
    } catch (error) {
      if (!env.QUIET) app.log.error(`retention skipped: the database could not be written (${(error as { code?: string }).code ?? (error as Error).name})`);
    }
  };
  await retain();
  const retention = setInterval(() => void retain(), HOUR);
  const address = await app.listen({ port: flags.port, host: flags.host });
  console.log(`reftrack-collector listening on ${address} (database ${isPostgresUrl(location) ? redactUrl(location) : location}, forwarding to Voucherify ${forwarding ? "on" : "off"}, ${serverKeys.length} server key(s), reading ${readTokens.length > 0 ? "with a token" : "off"})`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`reftrack-collector: ${signal}, finishing requests in flight`);
    await app.close(); // stops accepting; requests in flight finish, and their writes with them
    await forwarder?.stop();
    clearInterval(retention);
    await store.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main(process.argv.slice(2), process.env).catch((error: unknown) => {
  console.error(`reftrack-collector: ${(error as Error).message}`);
  process.exit(1);
});
