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

/**
 * How a customer is told apart from another for `once_per_customer`: case, surrounding spaces, invisible characters
 * and Unicode compatibility forms do not make a new customer (`Alex@X.com ` is `alex@x.com`).
 */
export const sameCustomer = (id: string) => id.normalize("NFKC").replace(/[\u00ad\u200b-\u200f\u2060\ufeff]/g, "").trim().toLowerCase();

/**
 * The claims an event of one name makes for its customer: by `source_id`, and by Voucherify's own customer `id` when
 * the server gives one (Voucherify then ignores `source_id`). Digests: the claims table holds no email in clear.
 */
export const onceKeys = (event: CheckedEvent): string[] =>
  [["source_id", event.customer.source_id], ...(event.customer.id ? [["id", event.customer.id]] : [])].map(([kind, id]) =>
    createHash("sha256").update(JSON.stringify([event.event, kind, sameCustomer(id ?? "")])).digest("hex"),
  );

/** What became of one event: stored, a repeat, or an id some other event already holds. */
type Outcome = "stored" | "duplicate" | "id-taken";

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
  const sameId = db.prepare("SELECT source, event, source_id FROM events WHERE id = ?");
  // Conversions stored before a database had claims (or before the schema said once per customer) still count.
  const earlier = db.prepare("SELECT 1 FROM events WHERE event = ? AND source_id = ? LIMIT 1");
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

  /** Every claim is written (a later event finds any of them); the event is new only if none existed. */
  const claimOnce = (event: CheckedEvent, receivedAt: string): boolean => {
    const fresh = onceKeys(event).map((key) => claim.run(key, event.id, receivedAt).changes === 1);
    return fresh.every(Boolean) && earlier.get(event.event, event.customer.source_id) === undefined;
  };

  /** Whether the id is stored already: by this same event (a duplicate) or by another one (taken); null when free. */
  const heldBy = (event: CheckedEvent, source: Sender): Outcome | null => {
    const holder = sameId.get(event.id) as { source: Sender; event: string; source_id: string } | undefined;
    if (!holder) return null;
    return holder.source === source && holder.event === event.event && holder.source_id === event.customer.source_id ? "duplicate" : "id-taken";
  };

  /**
   * A resent event (same id, sender, name and customer) is a duplicate. An id held by a different event is refused:
   * otherwise a browser that guessed the id of a server's coming conversion could make it a "duplicate".
   */
  const storeOne = (event: CheckedEvent, oncePerCustomer: boolean, receivedAt: string, source: Sender): Outcome => {
    // A once-per-customer event must not claim its customer under an id that is not its own: ask first. Every other
    // event asks only when the insert finds the id taken, which keeps the common path to one statement.
    const held = oncePerCustomer ? heldBy(event, source) : null;
    if (held) return held;
    // Inside the batch's transaction, so two requests for one customer cannot both pass: the claims' keys decide.
    if (oncePerCustomer && !claimOnce(event, receivedAt)) return "duplicate";
    const result = insert.run(event.id, receivedAt, event.event, event.customer.source_id, event.referral?.code ?? null, source, JSON.stringify(event));
    if (result.changes === 0) return heldBy(event, source) ?? "id-taken";
    if (options.forwarding) queueForward.run(result.lastInsertRowid, receivedAt);
    return "stored";
  };

  /** Stores a batch's valid events in one transaction, and says what became of each. */
  const storeBatch = db.transaction((items: IncomingEvent[], receivedAt: string, source: Sender) => {
    let stored = 0;
    const duplicateIds: string[] = [];
    const takenIds: string[] = [];
    for (const { event, oncePerCustomer } of items) {
      const outcome = storeOne(event, oncePerCustomer, receivedAt, source);
      if (outcome === "stored") stored++;
      else (outcome === "duplicate" ? duplicateIds : takenIds).push(event.id);
    }
    if (duplicateIds.length > 0) countDuplicates.run(duplicateIds.length);
    return { stored, duplicates: duplicateIds.length, duplicateIds, takenIds };
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
