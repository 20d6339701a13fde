// The shared engine: many collectors on one PostgreSQL database. The database decides every race: ids are unique by
// its index, once-per-customer by the claims table's primary key, and a forward belongs to whoever holds its lease.
import type pg from "pg";
import type { Sender } from "../schema.js";
import type { CheckedEvent } from "../wire.js";
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
  seq: string;
  id: string;
  received_at: Date;
  event: string;
  source_id: string;
  referral_code: string | null;
  source: Sender;
  body: Record<string, unknown>;
  status: ForwardStatus | null;
  attempts: number | null;
  last_error: string | null;
  updated_at: Date | null;
}

interface Holder {
  id: string;
  source: string;
  event: string;
  source_id: string;
}

/**
 * PostgreSQL text cannot hold U+0000, which JSON can: in the searchable columns it becomes U+FFFD (the body keeps
 * the event exactly, as `json` text). Without this, one such event would make its whole batch fail, again and again.
 */
const text = (value: string) => value.replaceAll("\u0000", "\ufffd");
const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const SELECT_EVENTS = `SELECT e.seq, e.id, e.received_at, e.event, e.source_id, e.referral_code, e.source, e.body,
  f.status, f.attempts, f.last_error, f.updated_at FROM events e LEFT JOIN forwards f ON f.event_seq = e.seq`;

/** Runs `work` in one transaction on one connection: COMMIT on success, ROLLBACK (and a fresh connection) on error. */
async function transaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A connection lost between two statements is reported as an event, not to a query: unheard, it would end the
  // process. The next statement fails too, and that failure is the one the caller sees.
  let lost: Error | null = null;
  const onError = (error: Error) => void (lost = error);
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    client.off("error", onError);
    client.release(lost ?? undefined);
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    client.off("error", onError);
    // The connection may be the reason (the server restarted): the pool must not hand it out again.
    client.release(error instanceof Error ? error : true);
    throw error;
  }
}

export function createPostgresStore(pool: pg.Pool, options: { forwarding: boolean }): EventStore {
  /**
   * One transaction per batch. Every lock is taken in one global order (claims by key, then events by id), so two
   * collectors storing overlapping batches wait for each other instead of deadlocking.
   */
  const storeBatch = (items: IncomingEvent[], receivedAt: string, source: Sender): Promise<BatchOutcome> =>
    transaction(pool, async (client) => {
      const outcomes = new Map<number, Outcome>();
      const order = items.map((_, index) => index).sort((a, b) => byId(items[a]?.event.id ?? "", items[b]?.event.id ?? "") || a - b);
      const eventAt = (index: number): CheckedEvent => {
        const item = items[index];
        if (!item) throw new Error(`no item ${index}`);
        return item.event;
      };
      // The first item with an id speaks for it; a repeat within the batch is judged against it below.
      const first = new Map<string, number>();
      const repeats: number[] = [];
      for (const index of order) {
        const id = eventAt(index).id;
        if (first.has(id)) repeats.push(index);
        else first.set(id, index);
      }
      const holders = new Map<string, Holder>();
      const findHolders = async (ids: string[]) => {
        if (ids.length === 0) return;
        const { rows } = await client.query<Holder>("SELECT id, source, event, source_id FROM events WHERE id = ANY($1::text[])", [ids]);
        for (const row of rows) holders.set(row.id, row);
      };
      const judge = (index: number) => {
        const event = eventAt(index);
        const holder = holders.get(event.id);
        if (holder) outcomes.set(index, holderOutcome(holder, { ...event, event: text(event.event), customer: { ...event.customer, source_id: text(event.customer.source_id) } }, source));
      };

      // A once-per-customer event must not claim its customer under an id that is not its own: ids held already are
      // settled first (a plain read, no lock).
      await findHolders([...first.keys()]);
      for (const index of first.values()) judge(index);

      const once = [...first.values()].filter((index) => !outcomes.has(index) && items[index]?.oncePerCustomer);
      if (once.length > 0) {
        // The claims' primary key decides between two requests for one customer, whichever collector has them: the
        // second insert waits for the first transaction, then finds the key taken. Every claim is written.
        const owners = new Map<string, number>();
        const keysOf = new Map<number, string[]>();
        for (const index of once) {
          const keys = onceKeys(eventAt(index));
          keysOf.set(index, keys);
          for (const key of keys) if (!owners.has(key)) owners.set(key, index);
        }
        const keys = [...owners.keys()].sort(byId);
        const { rows } = await client.query<{ key: string }>(
          `INSERT INTO once_claims (key, event_id, claimed_at)
           SELECT key, event_id, $3::timestamptz FROM unnest($1::text[], $2::text[]) AS c (key, event_id) ORDER BY key
           ON CONFLICT (key) DO NOTHING RETURNING key`,
          [keys, keys.map((key) => eventAt(owners.get(key) ?? 0).id), receivedAt],
        );
        const fresh = new Set(rows.map((row) => row.key));
        for (const index of once) if (!(keysOf.get(index) ?? []).every((key) => fresh.has(key) && owners.get(key) === index)) outcomes.set(index, "duplicate");
        // Conversions stored before the event was once per customer (or before claims existed) count too, as on SQLite.
        const claimed = once.filter((index) => !outcomes.has(index));
        if (claimed.length > 0) {
          const earlier = await client.query<{ n: string }>(
            `SELECT c.n FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS c (event, source_id, n)
             WHERE EXISTS (SELECT 1 FROM events e WHERE e.event = c.event AND e.source_id = c.source_id)`,
            [claimed.map((index) => text(eventAt(index).event)), claimed.map((index) => text(eventAt(index).customer.source_id))],
          );
          for (const { n } of earlier.rows) {
            const index = claimed[Number(n) - 1];
            if (index !== undefined) outcomes.set(index, "duplicate");
          }
        }
      }

      const insert = [...first.values()].filter((index) => !outcomes.has(index));
      if (insert.length > 0) {
        const events = insert.map(eventAt);
        const { rows } = await client.query<{ seq: string; id: string }>(
          `INSERT INTO events (id, received_at, event, source_id, referral_code, source, body)
           SELECT id, $1::timestamptz, event, source_id, referral_code, $2, body::json
           FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS r (id, event, source_id, referral_code, body, n)
           ORDER BY n
           ON CONFLICT (id) DO NOTHING RETURNING seq, id`,
          [
            receivedAt,
            source,
            events.map((event) => event.id),
            events.map((event) => text(event.event)),
            events.map((event) => text(event.customer.source_id)),
            events.map((event) => (event.referral?.code === undefined ? null : text(event.referral.code))),
            events.map((event) => JSON.stringify(event)),
          ],
        );
        const inserted = new Set(rows.map((row) => row.id));
        for (const index of insert) if (inserted.has(eventAt(index).id)) outcomes.set(index, "stored");
        // An id another transaction stored between our read and our insert: judged against what it stored.
        const raced = insert.filter((index) => !outcomes.has(index));
        await findHolders(raced.map((index) => eventAt(index).id));
        for (const index of raced) {
          judge(index);
          if (!outcomes.has(index)) outcomes.set(index, "id-taken");
        }
        if (options.forwarding && rows.length > 0) {
          await client.query("INSERT INTO forwards (event_seq, status, updated_at) SELECT seq, 'pending', $2::timestamptz FROM unnest($1::bigint[]) AS s (seq)", [
            rows.map((row) => row.seq),
            receivedAt,
          ]);
        }
      }

      for (const index of repeats) {
        const event = eventAt(index);
        const firstIndex = first.get(event.id) ?? index;
        const stored = outcomes.get(firstIndex) === "stored";
        const original = eventAt(firstIndex);
        if (!holders.has(event.id) && stored) holders.set(event.id, { id: original.id, source, event: text(original.event), source_id: text(original.customer.source_id) });
        judge(index);
        if (!outcomes.has(index)) outcomes.set(index, outcomes.get(firstIndex) === "id-taken" ? "id-taken" : "duplicate");
      }

      let stored = 0;
      const duplicateIds: string[] = [];
      const takenIds: string[] = [];
      items.forEach((item, index) => {
        const outcome = outcomes.get(index) ?? "id-taken";
        if (outcome === "stored") stored++;
        else (outcome === "duplicate" ? duplicateIds : takenIds).push(item.event.id);
      });
      // Last: the one row every collector updates is held for the shortest time, and after every other lock.
      if (duplicateIds.length > 0) {
        await client.query("INSERT INTO counters (name, value) VALUES ('duplicates', $1) ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value", [duplicateIds.length]);
      }
      return { stored, duplicates: duplicateIds.length, duplicateIds, takenIds };
    });

  const list = async (filter: EventFilter): Promise<EventPage> => {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (clause: string, value: string | number | undefined) => {
      if (value === undefined || value === "") return;
      params.push(typeof value === "string" ? text(value) : value);
      where.push(clause.replace("?", `$${params.length}`));
    };
    add("e.event = ?", filter.event);
    add("e.referral_code = ?", filter.referral);
    add("e.source_id = ?", filter.customer);
    add("e.received_at >= ?::timestamptz", filter.since);
    const matching = where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "";
    const counted = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM events e${matching}`, params);
    add("e.seq < ?", filter.before);
    params.push(filter.limit + 1);
    const clause = where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "";
    const { rows } = await pool.query<EventRow>(`${SELECT_EVENTS}${clause} ORDER BY e.seq DESC LIMIT $${params.length}`, params);
    const page = rows.slice(0, filter.limit).map(toStoredEvent);
    return { events: page, total: Number(counted.rows[0]?.n ?? 0), next: rows.length > filter.limit ? (page.at(-1)?.seq ?? null) : null };
  };

  const stats = async (): Promise<StoreStats> => {
    const [events, duplicates, forwards] = await Promise.all([
      pool.query<{ n: string }>("SELECT count(*) AS n FROM events"),
      pool.query<{ value: string }>("SELECT value FROM counters WHERE name = 'duplicates'"),
      pool.query<{ status: ForwardStatus; n: string }>("SELECT status, count(*) AS n FROM forwards GROUP BY status"),
    ]);
    return {
      events: Number(events.rows[0]?.n ?? 0),
      duplicates: Number(duplicates.rows[0]?.value ?? 0),
      forwarding: Object.fromEntries(forwards.rows.map((row) => [row.status, Number(row.n)])),
    };
  };

  return {
    engine: "postgres",
    storeBatch,
    list,
    stats,

    // One statement, so one short transaction: rows another collector is claiming right now are skipped, not waited
    // for, and a row whose lease ran out (its collector died) is due again.
    async claimForwards(owner, now, limit, leaseMs): Promise<DueForward[]> {
      const { rows } = await pool.query<{ seq: string; attempts: number; body: Record<string, unknown> }>(
        `WITH due AS (
           SELECT f.event_seq FROM forwards f
           WHERE f.status = 'pending' AND f.next_attempt_at <= $1 AND f.lease_until <= $1
             AND (SELECT paused_until FROM forward_pause WHERE id = 1) <= $1
           ORDER BY f.event_seq LIMIT $2 FOR UPDATE OF f SKIP LOCKED)
         UPDATE forwards f SET lease_owner = $3, lease_until = $4 FROM due, events e
         WHERE f.event_seq = due.event_seq AND e.seq = f.event_seq
         RETURNING f.event_seq AS seq, f.attempts, e.body`,
        [now, limit, owner, now + leaseMs],
      );
      return rows.map((row) => ({ seq: Number(row.seq), attempts: row.attempts, body: row.body })).sort((a, b) => a.seq - b.seq);
    },

    async settleForward(seq: number, owner: string, outcome: ForwardOutcome): Promise<boolean> {
      const result = await pool.query(
        `UPDATE forwards SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4, updated_at = now(), lease_owner = NULL, lease_until = 0
         WHERE event_seq = $5 AND lease_owner = $6`,
        [outcome.status, outcome.attempts, outcome.nextAttemptAt, outcome.error, seq, owner],
      );
      return result.rowCount === 1;
    },

    async pauseForwarding(until) {
      await pool.query("UPDATE forward_pause SET paused_until = GREATEST(paused_until, $1) WHERE id = 1", [until]);
    },

    async forwardingPausedUntil() {
      const { rows } = await pool.query<{ paused_until: string }>("SELECT paused_until FROM forward_pause WHERE id = 1");
      return Number(rows[0]?.paused_until ?? 0);
    },

    // One statement: a forward settled by another collector meanwhile is not a reason to fail; forwarding rows go
    // with their events (ON DELETE CASCADE), and a pending one keeps its event.
    async deleteOlderThan(cutoff) {
      const result = await pool.query(
        "DELETE FROM events e WHERE e.received_at < $1::timestamptz AND NOT EXISTS (SELECT 1 FROM forwards f WHERE f.event_seq = e.seq AND f.status = 'pending')",
        [cutoff],
      );
      return result.rowCount ?? 0;
    },

    close: () => pool.end(),
  };
}

function toStoredEvent(row: EventRow): StoredEvent {
  return {
    seq: Number(row.seq),
    id: row.id,
    received_at: row.received_at.toISOString(),
    event: row.event,
    source_id: row.source_id,
    referral_code: row.referral_code,
    source: row.source,
    body: row.body,
    forwarding: row.status ? { status: row.status, attempts: row.attempts ?? 0, last_error: row.last_error, updated_at: row.updated_at?.toISOString() ?? "" } : null,
  };
}
