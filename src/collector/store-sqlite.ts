// The embedded engine: one collector, one SQLite file (better-sqlite3). Every write is one transaction; see db.ts for
// durability. better-sqlite3 is synchronous: each method does its work at once and hands back a settled promise.
import type { Sender } from "../schema.js";
import type { CheckedEvent } from "../wire.js";
import type { Db } from "./db.js";
import {
  holderOutcome,
  onceKeys,
  type BatchOutcome,
  type DueForward,
  type EventFilter,
  type EventPage,
  type EventStore,
  type ForwardOutcome,
  type ForwardStatus,
  type IncomingEvent,
  type Outcome,
  type StoredEvent,
  type StoreStats,
} from "./event-store.js";

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

const SELECT_EVENTS = `SELECT e.seq, e.id, e.received_at, e.event, e.source_id, e.referral_code, e.source, e.body,
  f.status, f.attempts, f.last_error, f.updated_at FROM events e LEFT JOIN forwards f ON f.event_seq = e.seq`;

/** Runs `work` now; a throw becomes a rejected promise, as it would from a database across the network. */
const settled = <T>(work: () => T): Promise<T> => {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
};

export function createSqliteStore(db: Db, options: { forwarding: boolean }): EventStore {
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
     WHERE f.status = 'pending' AND f.next_attempt_at <= ? AND f.lease_until <= ? ORDER BY f.event_seq LIMIT ?`,
  );
  const lease = db.prepare("UPDATE forwards SET lease_owner = ?, lease_until = ? WHERE event_seq = ?");
  const settle = db.prepare(
    "UPDATE forwards SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ?, lease_owner = NULL, lease_until = 0 WHERE event_seq = ? AND lease_owner = ?",
  );
  const pausedUntil = db.prepare("SELECT paused_until FROM forward_pause WHERE id = 1");
  const pause = db.prepare("INSERT INTO forward_pause (id, paused_until) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET paused_until = MAX(paused_until, excluded.paused_until)");

  /** Every claim is written (a later event finds any of them); the event is new only if none existed. */
  const claimOnce = (event: CheckedEvent, receivedAt: string): boolean => {
    const fresh = onceKeys(event).map((key) => claim.run(key, event.id, receivedAt).changes === 1);
    return fresh.every(Boolean) && earlier.get(event.event, event.customer.source_id) === undefined;
  };

  /** Whether the id is stored already: by this same event (a duplicate) or by another one (taken); null when free. */
  const heldBy = (event: CheckedEvent, source: Sender): Outcome | null => {
    const holder = sameId.get(event.id) as { source: Sender; event: string; source_id: string } | undefined;
    return holder ? holderOutcome(holder, event, source) : null;
  };

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

  const storeBatch = db.transaction((items: IncomingEvent[], receivedAt: string, source: Sender): BatchOutcome => {
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

  const list = (filter: EventFilter): EventPage => {
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
    add("e.seq < ?", filter.before);
    const clause = where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "";
    const rows = db.prepare(`${SELECT_EVENTS}${clause} ORDER BY e.seq DESC LIMIT ?`).all(...params, filter.limit + 1) as EventRow[];
    const page = rows.slice(0, filter.limit).map(toStoredEvent);
    return { events: page, total, next: rows.length > filter.limit ? (page.at(-1)?.seq ?? null) : null };
  };

  const stats = (): StoreStats => {
    const events = (db.prepare("SELECT COUNT(*) AS n FROM events").get() as { n: number }).n;
    const duplicates = (db.prepare("SELECT value FROM counters WHERE name = 'duplicates'").get() as { value: number } | undefined)?.value ?? 0;
    const forwarding = Object.fromEntries(
      (db.prepare("SELECT status, COUNT(*) AS n FROM forwards GROUP BY status").all() as { status: ForwardStatus; n: number }[]).map((row) => [row.status, row.n]),
    );
    return { events, duplicates, forwarding };
  };

  const pausedAt = () => (pausedUntil.get() as { paused_until: number } | undefined)?.paused_until ?? 0;

  // One process holds the file, so a lease only guards against this collector's own forwarder looking twice; it is
  // kept for the interface's sake and costs one UPDATE per forward.
  const claimForwards = db.transaction((owner: string, now: number, limit: number, leaseMs: number): DueForward[] => {
    if (pausedAt() > now) return [];
    const rows = due.all(now, now, limit) as { seq: number; attempts: number; body: string }[];
    for (const row of rows) lease.run(owner, now + leaseMs, row.seq);
    return rows.map((row) => ({ ...row, body: JSON.parse(row.body) as Record<string, unknown> }));
  });

  const deleteOlderThan = db.transaction((cutoff: string): number => {
    const old = "SELECT seq FROM events e WHERE e.received_at < ? AND NOT EXISTS (SELECT 1 FROM forwards f WHERE f.event_seq = e.seq AND f.status = 'pending')";
    db.prepare(`DELETE FROM forwards WHERE event_seq IN (${old})`).run(cutoff);
    return db.prepare(`DELETE FROM events WHERE seq IN (${old})`).run(cutoff).changes;
  });

  return {
    engine: "sqlite",
    storeBatch: (items, receivedAt, source) => settled(() => storeBatch.immediate(items, receivedAt, source)),
    list: (filter) => settled(() => list(filter)),
    stats: () => settled(stats),
    claimForwards: (owner, now, limit, leaseMs) => settled(() => claimForwards.immediate(owner, now, limit, leaseMs)),
    settleForward: (seq: number, owner: string, outcome: ForwardOutcome) =>
      settled(() => settle.run(outcome.status, outcome.attempts, outcome.nextAttemptAt, outcome.error, new Date().toISOString(), seq, owner).changes === 1),
    pauseForwarding: (until) => settled(() => void pause.run(until)),
    forwardingPausedUntil: () => settled(pausedAt),
    deleteOlderThan: (cutoff) => settled(() => deleteOlderThan.immediate(cutoff)),
    close: () => settled(() => void db.close()),
  };
}

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
