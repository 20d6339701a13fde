// What the collector keeps, and the queries over it. Every write is one transaction; see db.ts for durability.
import { createHash } from "node:crypto";
import type { Sender } from "../schema.js";
import type { CheckedEvent } from "../wire.js";
import type { Db } from "./db.js";

export type ForwardStatus = "pending" | "sent" | "failed";

export interface StoredEvent {
  seq: number;
  id: string;
  received_at: string;
  event: string;
  source_id: string;
  referral_code: string | null;
  /** `server` when the site's server sent it with a key; `browser` otherwise. */
  source: Sender;
  body: Record<string, unknown>;
  forwarding: { status: ForwardStatus; attempts: number; last_error: string | null; updated_at: string } | null;
}

export interface EventFilter {
  event?: string;
  referral?: string;
  customer?: string;
  /** ISO time: only events received at or after it. */
  since?: string;
  /** Paging cursor: only events older than this `seq` (the `next` of the previous page). */
  before?: number;
  limit: number;
}

/** A checked event, and whether only the customer's first event of its name counts. */
export interface IncomingEvent {
  event: CheckedEvent;
  oncePerCustomer: boolean;
}

/** The same key for every event of one name and customer (JSON keeps any two pairs apart); a digest, not the email. */
export const onceKey = (event: CheckedEvent) => createHash("sha256").update(JSON.stringify([event.event, event.customer.source_id])).digest("hex");

interface EventRow {
  seq: number;
  id: string;
  received_at: string;
  event: string;
  source_id: string;
  referral_code: string | null;
  source: Sender;
  body: string;
  status: ForwardStatus | null;
  attempts: number | null;
  last_error: string | null;
  updated_at: string | null;
}

export interface DueForward {
  seq: number;
  attempts: number;
  body: Record<string, unknown>;
}

const SELECT_EVENTS = `SELECT e.seq, e.id, e.received_at, e.event, e.source_id, e.referral_code, e.source, e.body,
  f.status, f.attempts, f.last_error, f.updated_at FROM events e LEFT JOIN forwards f ON f.event_seq = e.seq`;

export function createEventStore(db: Db, options: { forwarding: boolean }) {
  const insert = db.prepare(
    "INSERT INTO events (id, received_at, event, source_id, referral_code, source, body) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
  );
  const findEvent = db.prepare("SELECT 1 FROM events WHERE id = ?");
  const claim = db.prepare("INSERT INTO once_claims (key, event_id, claimed_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING");
  const queueForward = db.prepare("INSERT INTO forwards (event_seq, status, updated_at) VALUES (?, 'pending', ?)");
  const countDuplicates = db.prepare(
    "INSERT INTO counters (name, value) VALUES ('duplicates', ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
  );
  const due = db.prepare(
    `SELECT f.event_seq AS seq, f.attempts, e.body FROM forwards f JOIN events e ON e.seq = f.event_seq
     WHERE f.status = 'pending' AND f.next_attempt_at <= ? ORDER BY f.event_seq LIMIT ?`,
  );
  const setForward = db.prepare("UPDATE forwards SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ? WHERE event_seq = ?");

  /**
   * Stores a batch's valid events in one transaction. A duplicate is an id already stored (or repeated in the batch),
   * or a once-per-customer event its customer already has; the ids of duplicates are returned.
   */
  const storeBatch = db.transaction((items: IncomingEvent[], receivedAt: string, source: Sender) => {
    let stored = 0;
    const duplicateIds: string[] = [];
    for (const { event, oncePerCustomer } of items) {
      // Inside the transaction, so two requests for one customer cannot both pass: the claim's primary key decides.
      if (oncePerCustomer && (findEvent.get(event.id) !== undefined || claim.run(onceKey(event), event.id, receivedAt).changes === 0)) {
        duplicateIds.push(event.id);
        continue;
      }
      const result = insert.run(event.id, receivedAt, event.event, event.customer.source_id, event.referral?.code ?? null, source, JSON.stringify(event));
      if (result.changes === 0) {
        duplicateIds.push(event.id);
        continue;
      }
      stored++;
      if (options.forwarding) queueForward.run(result.lastInsertRowid, receivedAt);
    }
    if (duplicateIds.length > 0) countDuplicates.run(duplicateIds.length);
    return { stored, duplicates: duplicateIds.length, duplicateIds };
  });

  return {
    storeBatch,

    list(filter: EventFilter): { events: StoredEvent[]; total: number; next: number | null } {
      const where: string[] = [];
      const params: (string | number)[] = [];
      const add = (clause: string, value: string | number | undefined) => {
        if (value === undefined || value === "") return;
        where.push(clause);
        params.push(value);
      };
      add("e.event = ?", filter.event);
      add("e.referral_code = ?", filter.referral);
      add("e.source_id = ?", filter.customer);
      add("e.received_at >= ?", filter.since);
      const matching = where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "";
      const total = (db.prepare(`SELECT COUNT(*) AS n FROM events e${matching}`).get(...params) as { n: number }).n;
      if (filter.before !== undefined) {
        where.push("e.seq < ?");
        params.push(filter.before);
      }
      const clause = where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "";
      const rows = db.prepare(`${SELECT_EVENTS}${clause} ORDER BY e.seq DESC LIMIT ?`).all(...params, filter.limit + 1) as EventRow[];
      const page = rows.slice(0, filter.limit).map(toStoredEvent);
      return { events: page, total, next: rows.length > filter.limit ? (page.at(-1)?.seq ?? null) : null };
    },

    stats() {
      const events = (db.prepare("SELECT COUNT(*) AS n FROM events").get() as { n: number }).n;
      const duplicates = (db.prepare("SELECT value FROM counters WHERE name = 'duplicates'").get() as { value: number } | undefined)?.value ?? 0;
      const forwarding = Object.fromEntries(
        (db.prepare("SELECT status, COUNT(*) AS n FROM forwards GROUP BY status").all() as { status: ForwardStatus; n: number }[]).map((row) => [row.status, row.n]),
      );
      return { events, duplicates, forwarding };
    },

    dueForwards(now: number, limit: number): DueForward[] {
      return (due.all(now, limit) as { seq: number; attempts: number; body: string }[]).map((row) => ({ ...row, body: JSON.parse(row.body) as Record<string, unknown> }));
    },

    markForward(seq: number, status: ForwardStatus, attempts: number, nextAttemptAt: number, error: string | null) {
      setForward.run(status, attempts, nextAttemptAt, error, new Date().toISOString(), seq);
    },

    /**
     * Deletes events received before `cutoff` (ISO time), with their forwarding rows, except those still waiting to
     * be forwarded: retention never drops an event Voucherify has not had. Once-per-customer claims stay.
     */
    deleteOlderThan: db.transaction((cutoff: string): number => {
      const settled = "SELECT seq FROM events e WHERE e.received_at < ? AND NOT EXISTS (SELECT 1 FROM forwards f WHERE f.event_seq = e.seq AND f.status = 'pending')";
      db.prepare(`DELETE FROM forwards WHERE event_seq IN (${settled})`).run(cutoff);
      return db.prepare(`DELETE FROM events WHERE seq IN (${settled})`).run(cutoff).changes;
    }),
  };
}

export type EventStore = ReturnType<typeof createEventStore>;

function toStoredEvent(row: EventRow): StoredEvent {
  return {
    seq: row.seq,
    id: row.id,
    received_at: row.received_at,
    event: row.event,
    source_id: row.source_id,
    referral_code: row.referral_code,
    source: row.source,
    body: JSON.parse(row.body) as Record<string, unknown>,
    forwarding: row.status ? { status: row.status, attempts: row.attempts ?? 0, last_error: row.last_error, updated_at: row.updated_at ?? "" } : null,
  };
}
