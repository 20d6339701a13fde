// The collector's PostgreSQL database, shared by every collector pointed at it: the connection pool and the versioned
// migrations.
//
// Durability: every session runs with synchronous_commit on (PostgreSQL's default, set here so that a server tuned
// for speed does not silently weaken the promise): COMMIT returns once the WAL is flushed, and the collector answers
// a batch only after its COMMIT.
import pg from "pg";

/** Versioned migrations: index i brings the schema to version i + 1. Never edit one that has shipped; add one. */
const MIGRATIONS: string[] = [
  `CREATE TABLE events (
     seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     id text NOT NULL UNIQUE,
     received_at timestamptz NOT NULL,
     event text NOT NULL,
     source_id text NOT NULL,
     referral_code text,
     source text NOT NULL CHECK (source IN ('browser', 'server')),
     body json NOT NULL
   );
   CREATE INDEX events_event ON events (event, seq);
   CREATE INDEX events_referral ON events (referral_code, seq);
   CREATE INDEX events_source ON events (source_id, seq);
   CREATE INDEX events_received ON events (received_at);
   CREATE TABLE counters (name text PRIMARY KEY, value bigint NOT NULL);
   CREATE TABLE forwards (
     event_seq bigint PRIMARY KEY REFERENCES events (seq) ON DELETE CASCADE,
     status text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
     attempts integer NOT NULL DEFAULT 0,
     next_attempt_at bigint NOT NULL DEFAULT 0,
     last_error text,
     updated_at timestamptz NOT NULL,
     lease_owner text,
     lease_until bigint NOT NULL DEFAULT 0
   );
   CREATE INDEX forwards_pending ON forwards (event_seq) WHERE status = 'pending';
   CREATE TABLE once_claims (key text PRIMARY KEY, event_id text NOT NULL, claimed_at timestamptz NOT NULL);
   CREATE TABLE forward_pause (id integer PRIMARY KEY CHECK (id = 1), paused_until bigint NOT NULL);
   INSERT INTO forward_pause (id, paused_until) VALUES (1, 0);`,
];

/** Any fixed number: the key of the advisory lock every collector takes around its migrations. */
const MIGRATION_LOCK = 0x7265_6674;

export const isPostgresUrl = (value: string) => /^postgres(ql)?:\/\//i.test(value);

/** The URL with its password replaced, for logs and the start-up line. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = "***";
    // libpq takes a password as a query parameter too.
    for (const name of ["password", "sslpassword"]) if (url.searchParams.has(name)) url.searchParams.set(name, "***");
    return url.toString();
  } catch {
    return "postgres://(unparsable URL)";
  }
}

export interface PostgresOptions {
  url: string;
  /** Connections this collector may open (10). */
  poolSize?: number;
  /** Called for errors of idle connections (the server restarted): they are dropped, the pool opens new ones. */
  onIdleError?: (error: Error) => void;
}

export function openPool(options: PostgresOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    // What pg_stat_activity shows for these connections (a URL's own application_name wins).
    application_name: "reftrack-collector",
    max: options.poolSize ?? 10,
    // A database that does not answer makes a batch a quick 503 (the browser retries), not a hung request.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    options: "-c synchronous_commit=on -c statement_timeout=15000",
  });
  // Without a listener, an idle connection's error (the server was restarted) would end the process.
  pool.on("error", (error) => options.onIdleError?.(error));
  return pool;
}

/**
 * Brings the schema to the latest version. Collectors starting together take turns: the advisory lock is held until
 * the transaction ends, and each reads the version only once it holds the lock.
 */
export async function migratePostgres(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  // Failures reach the queries below; an unheard "error" event would end the process instead.
  client.on("error", () => undefined);
  try {
    await client.query("BEGIN");
    // A migration of a large table, or the wait for another collector's, may take longer than a request may.
    await client.query("SET LOCAL statement_timeout = 0");
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    // Created only when missing: CREATE … IF NOT EXISTS checks the CREATE privilege first, which a collector's
    // everyday role (SELECT, INSERT, UPDATE, DELETE) does not have.
    const exists = await client.query<{ found: string | null }>("SELECT to_regclass('schema_migrations')::text AS found");
    if (!exists.rows[0]?.found) await client.query("CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    const { rows } = await client.query<{ version: number | null }>("SELECT max(version) AS version FROM schema_migrations");
    for (let version = rows[0]?.version ?? 0; version < MIGRATIONS.length; version++) {
      await client.query(MIGRATIONS[version] ?? "");
      await client.query("INSERT INTO schema_migrations (version) VALUES ($1)", [version + 1]);
    }
    await client.query("COMMIT");
    return MIGRATIONS.length;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
