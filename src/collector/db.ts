// The collector's SQLite database (better-sqlite3): events keyed by id, and the queue of forwards to Voucherify.
//
// Durability: WAL journal with synchronous=FULL. In WAL mode every commit appends to the log, and FULL makes SQLite
// fsync the log before the commit returns, so an event is on disk before its 2xx goes out — through a `kill -9`
// (NORMAL would already survive that) and through a power cut (which NORMAL would not). The cost is one fsync per
// batch, not per event: each batch is one transaction. WAL also lets the read API run while a batch is written.
import Database from "better-sqlite3";
import { chmodSync, closeSync, existsSync, openSync } from "node:fs";

export type Db = Database.Database;

/** Versioned migrations: index i brings the schema to version i + 1. Never edit one that has shipped; add one. */
const MIGRATIONS: string[] = [
  `CREATE TABLE events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     received_at TEXT NOT NULL,
     event TEXT NOT NULL,
     source_id TEXT NOT NULL,
     referral_code TEXT,
     body TEXT NOT NULL
   );
   CREATE INDEX events_event ON events (event, seq);
   CREATE INDEX events_referral ON events (referral_code, seq);
   CREATE INDEX events_source ON events (source_id, seq);
   CREATE INDEX events_received ON events (received_at);
   CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);`,
  `CREATE TABLE forwards (
     event_seq INTEGER PRIMARY KEY REFERENCES events (seq),
     status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     updated_at TEXT NOT NULL
   );
   CREATE INDEX forwards_due ON forwards (status, next_attempt_at);`,
  // Who sent each event; and the customers' once-per-customer events, by a digest of (event, source_id). The claims
  // outlive the events' retention (a deleted sign-up must not pay twice) and hold no personal data in clear.
  `ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT 'browser' CHECK (source IN ('browser', 'server'));
   CREATE TABLE once_claims (key TEXT PRIMARY KEY, event_id TEXT NOT NULL, claimed_at TEXT NOT NULL);`,
  // Forwards are leased (the same interface as PostgreSQL, where several collectors share the queue), and a pause
  // after a 429 or an outage is kept in the database, where every forwarder of this store sees it.
  `ALTER TABLE forwards ADD COLUMN lease_owner TEXT;
   ALTER TABLE forwards ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE forward_pause (id INTEGER PRIMARY KEY CHECK (id = 1), paused_until INTEGER NOT NULL);`,
];

/** Only the collector's own user may read what the database holds: customers' emails and names. */
const PRIVATE = 0o600;

export function openDb(path: string): Db {
  if (path !== ":memory:") closeSync(openSync(path, "a", PRIVATE));
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  // SQLite gives its -wal and -shm files the database file's mode; a database made by an older version is fixed here.
  if (path !== ":memory:") for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, PRIVATE);
  return db;
}

export function migrate(db: Db): number {
  // IMMEDIATE takes the write lock before reading the version: two processes starting on a fresh database
  // migrate one after the other instead of both creating the same tables.
  db.transaction(() => {
    const current = db.pragma("user_version", { simple: true }) as number;
    for (let version = current; version < MIGRATIONS.length; version++) {
      db.exec(MIGRATIONS[version] ?? "");
      db.pragma(`user_version = ${version + 1}`);
    }
  }).immediate();
  return MIGRATIONS.length;
}
