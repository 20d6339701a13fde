// Where the collector keeps events: the engine a `--db` value selects, behind the one interface of event-store.ts.
// A path is an embedded SQLite file (one collector); a postgres:// URL is a PostgreSQL database many collectors share.
import { openDb, type Db } from "./db.js";
import type { EventStore } from "./event-store.js";
import { isPostgresUrl, migratePostgres, openPool } from "./postgres-db.js";
import { createPostgresStore } from "./store-postgres.js";
import { createSqliteStore } from "./store-sqlite.js";

export * from "./event-store.js";

/** The SQLite engine on an open database (the demo and in-process tests open their own). */
export const createEventStore = (db: Db, options: { forwarding: boolean }): EventStore => createSqliteStore(db, options);

export interface OpenOptions {
  forwarding: boolean;
  /** PostgreSQL: connections this collector may open. */
  poolSize?: number;
  /** PostgreSQL: what to do with an idle connection's error (the server restarted); the pool replaces it. */
  onIdleError?: (error: Error) => void;
}

/** Opens (and migrates) the store that `location` names: a SQLite file path, or a postgres:// URL. */
export async function openEventStore(location: string, options: OpenOptions): Promise<EventStore> {
  if (!isPostgresUrl(location)) return createSqliteStore(openDb(location), options);
  const pool = openPool({ url: location, ...(options.poolSize === undefined ? {} : { poolSize: options.poolSize }), ...(options.onIdleError ? { onIdleError: options.onIdleError } : {}) });
  try {
    await migratePostgres(pool);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  return createPostgresStore(pool, { forwarding: options.forwarding });
}
