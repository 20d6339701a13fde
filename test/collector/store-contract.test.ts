// @vitest-environment node
// One contract, two engines: what the collector promises about stored events holds the same on embedded SQLite and
// on PostgreSQL (a throwaway cluster of the machine's own binaries). On PostgreSQL, "two collectors" are two stores on
// one database, each with its own pool, as two processes would have.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { openDb } from "../../src/collector/db.js";
import { openPool } from "../../src/collector/postgres-db.js";
import type { EventStore, IncomingEvent } from "../../src/collector/store.js";
import { createEventStore, openEventStore } from "../../src/collector/store.js";
import type { CheckedEvent } from "../../src/wire.js";
import { clusterPerFile } from "./postgres-cluster.js";

const { missing, cluster } = clusterPerFile({ beforeAll, afterAll }, "PostgreSQL contract tests");


let databases = 0;
interface Engine {
  name: string;
  /** Whether two stores can share one database (two collectors). */
  shared: boolean;
  skip: boolean;
  /** Opens a fresh, empty database; `again` opens a second store on the same one. */
  open(forwarding?: boolean): Promise<{ store: EventStore; again(): Promise<EventStore> }>;
}

const engines: Engine[] = [
  {
    name: "SQLite",
    shared: false,
    skip: false,
    async open(forwarding = true) {
      const store = createEventStore(openDb(":memory:"), { forwarding });
      return { store, again: async () => store };
    },
  },
  {
    name: "PostgreSQL",
    shared: true,
    skip: missing !== null,
    async open(forwarding = true) {
      const url = await cluster().createDatabase(`contract_${process.pid}_${databases++}`);
      return { store: await openEventStore(url, { forwarding }), again: () => openEventStore(url, { forwarding }) };
    },
  },
];

let counter = 0;
const checked = (overrides: Partial<CheckedEvent> = {}): CheckedEvent => ({
  id: `evt-${process.pid}-${counter++}-xxxxxxxx`,
  event: "share_social",
  customer: { source_id: "anon_1" },
  metadata: { network: "x" },
  ...overrides,
});
const item = (event: CheckedEvent, oncePerCustomer = false): IncomingEvent => ({ event, oncePerCustomer });
const now = () => new Date().toISOString();

describe.each(engines)("the $name store", (engine) => {
  const opened: EventStore[] = [];
  const open = async (forwarding = true) => {
    const result = await engine.open(forwarding);
    opened.push(result.store);
    return {
      store: result.store,
      again: async () => {
        const second = await result.again();
        if (second !== result.store) opened.push(second);
        return second;
      },
    };
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });

  describe.skipIf(engine.skip)(engine.name, () => {
    it("stores each id once, within a batch and across batches, and counts the repeats", async () => {
      const { store } = await open();
      const [a, b] = [checked(), checked({ referral: { code: "NRY-01" } })];
      expect(await store.storeBatch([item(a), item(a), item(b)], now(), "browser")).toEqual({ stored: 2, duplicates: 1, duplicateIds: [a.id], takenIds: [] });
      expect(await store.storeBatch([item(b)], now(), "browser")).toEqual({ stored: 0, duplicates: 1, duplicateIds: [b.id], takenIds: [] });
      const page = await store.list({ limit: 10 });
      expect(page.events.map((event) => [event.id, event.referral_code, event.source])).toEqual([
        [b.id, "NRY-01", "browser"],
        [a.id, null, "browser"],
      ]);
      expect(page.events[0]?.body).toEqual(b);
      expect(await store.stats()).toEqual({ events: 2, duplicates: 2, forwarding: { pending: 2 } });
    });

    it("refuses an id another event holds (another name, customer or sender), and stores nothing for it", async () => {
      const { store } = await open();
      const original = checked({ event: "signed_up", customer: { source_id: "alex@x.io" } });
      await store.storeBatch([item(original)], now(), "server");
      const guesses = [checked({ id: original.id }), checked({ id: original.id, event: "signed_up" }), { ...original }];
      expect(await store.storeBatch(guesses.map((event) => item(event)), now(), "browser")).toMatchObject({ stored: 0, duplicates: 0, takenIds: [original.id, original.id, original.id] });
      expect(await store.storeBatch([item({ ...original }, true)], now(), "browser")).toMatchObject({ stored: 0, takenIds: [original.id] });
      expect(await store.storeBatch([item({ ...original })], now(), "server")).toMatchObject({ stored: 0, duplicates: 1 });
      expect((await store.list({ limit: 10 })).total).toBe(1);
    });

    it("keeps one event per customer of a once-per-customer name, whatever the case, spaces or customer id", async () => {
      const { store } = await open();
      const signup = (customer: CheckedEvent["customer"]) => item(checked({ event: "signed_up", customer }), true);
      expect(await store.storeBatch([signup({ source_id: "Alex@X.com" })], now(), "server")).toMatchObject({ stored: 1 });
      for (const customer of [{ source_id: " alex@x.com " }, { source_id: "ALEX@X.COM\u200b" }, { source_id: "alex@x.com" }]) {
        expect(await store.storeBatch([signup(customer)], now(), "server"), customer.source_id).toMatchObject({ stored: 0, duplicates: 1 });
      }
      // Voucherify's own customer id is a claim too: a new source_id under a known id is the same customer.
      expect(await store.storeBatch([signup({ source_id: "sam@x.com", id: "cust_1" })], now(), "server")).toMatchObject({ stored: 1 });
      expect(await store.storeBatch([signup({ source_id: "samuel@x.com", id: "CUST_1" })], now(), "server")).toMatchObject({ stored: 0, duplicates: 1 });
      // Two in one batch: the first counts. Another customer, or a name that is not once-per-customer, is not held back.
      const [first, second] = [signup({ source_id: "kim@x.com" }), signup({ source_id: "Kim@x.com" })];
      expect(await store.storeBatch([first, second], now(), "server")).toMatchObject({ stored: 1, duplicateIds: [second.event.id] });
      expect(await store.storeBatch([item(checked({ event: "signed_up", customer: { source_id: "alex@x.com" } }))], now(), "server")).toMatchObject({ stored: 1 });
      expect((await store.list({ event: "signed_up", limit: 10 })).total).toBe(4);
    });

    it("counts a conversion stored before its name was once per customer", async () => {
      const { store } = await open();
      const signup = (once: boolean) => item(checked({ event: "signed_up", customer: { source_id: "early@x.com" } }), once);
      expect(await store.storeBatch([signup(false)], now(), "server")).toMatchObject({ stored: 1 });
      expect(await store.storeBatch([signup(true)], now(), "server")).toMatchObject({ stored: 0, duplicates: 1 });
      expect((await store.list({ event: "signed_up", limit: 10 })).total).toBe(1);
    });

    it("stores each of the same ids once when many batches carrying them are stored at once", async () => {
      const { store, again } = await open();
      const other = await again();
      const events = Array.from({ length: 30 }, () => checked());
      // Every batch holds the same ids in its own order, half of them on a second store (a second collector).
      const batches = Array.from({ length: 16 }, (_, n) => [...events].sort(() => (n % 2 === 0 ? 1 : -1) * (Math.random() - 0.5)));
      const results = await Promise.all(batches.map((batch, n) => (n % 2 === 0 ? store : other).storeBatch(batch.map((event) => item(event)), now(), "browser")));
      expect(results.reduce((sum, result) => sum + result.stored, 0)).toBe(30);
      expect(results.reduce((sum, result) => sum + result.duplicates, 0)).toBe(30 * 15);
      const page = await store.list({ limit: 100 });
      expect(page.events.map((event) => event.id).sort()).toEqual(events.map((event) => event.id).sort());
    });

    it("lets one of many simultaneous conversions of one customer through, from any collector", async () => {
      const { store, again } = await open();
      const other = await again();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, n) => (n % 2 === 0 ? store : other).storeBatch([item(checked({ event: "signed_up", customer: { source_id: n % 3 === 0 ? "Jo@x.io" : "jo@x.io" } }), true)], now(), "server")),
      );
      expect(results.map((result) => result.stored).sort()).toEqual([...Array.from({ length: 19 }, () => 0), 1]);
      expect((await store.list({ limit: 100 })).total).toBe(1);
    });

    it("pages newest first by a stable key, with filters, a total and a cursor", async () => {
      const { store } = await open(false);
      const items = [
        checked({ referral: { code: "A" } }),
        checked({ referral: { code: "B" }, customer: { source_id: "alex@domain.io" } }),
        checked({ referral: { code: "A" }, customer: { source_id: "alex@domain.io" } }),
        checked({ event: "signed_up", customer: { source_id: "alex@domain.io" } }),
        checked(),
      ];
      const early = "2026-01-01T00:00:00.000Z";
      await store.storeBatch(items.slice(0, 2).map((event) => item(event)), early, "browser");
      await store.storeBatch(items.slice(2).map((event) => item(event)), "2026-06-01T00:00:00.000Z", "browser");
      expect((await store.list({ referral: "A", limit: 10 })).events.map((event) => event.id)).toEqual([items[2]?.id, items[0]?.id]);
      expect((await store.list({ customer: "alex@domain.io", referral: "B", limit: 10 })).total).toBe(1);
      expect((await store.list({ event: "signed_up", limit: 10 })).total).toBe(1);
      expect((await store.list({ since: "2026-03-01T00:00:00.000Z", limit: 10 })).total).toBe(3);
      const first = await store.list({ limit: 2 });
      expect(first.events.map((event) => event.id)).toEqual([items[4]?.id, items[3]?.id]);
      expect(first).toMatchObject({ total: 5, next: first.events[1]?.seq });
      const second = await store.list({ limit: 2, before: first.next ?? 0 });
      expect(second.events.map((event) => event.id)).toEqual([items[2]?.id, items[1]?.id]);
      const last = await store.list({ limit: 2, before: second.next ?? 0 });
      expect(last).toMatchObject({ total: 5, next: null });
      expect(last.events.map((event) => [event.id, event.received_at, event.forwarding])).toEqual([[items[0]?.id, early, null]]);
    });

    it("keeps what JSON can carry and a database column cannot (U+0000), and finds it again", async () => {
      const { store } = await open();
      const odd = checked({ customer: { source_id: "a\u0000b" }, metadata: { note: "x\u0000y", emoji: "🦊" } });
      expect(await store.storeBatch([item(odd)], now(), "browser")).toMatchObject({ stored: 1 });
      expect(await store.storeBatch([item({ ...odd })], now(), "browser")).toMatchObject({ duplicates: 1 });
      expect((await store.list({ limit: 10 })).events[0]?.body).toEqual(odd);
    });

    it("leases a forward to one collector; another gets it only once the lease runs out; a late outcome is refused", async () => {
      const { store, again } = await open();
      const other = await again();
      await store.storeBatch([item(checked()), item(checked())], now(), "browser");
      const t = Date.now();
      const [mine, theirs] = await Promise.all([store.claimForwards("a", t, 1, 30_000), other.claimForwards("b", t, 1, 30_000)]);
      expect([mine.length, theirs.length]).toEqual([1, 1]);
      expect(mine[0]?.seq).not.toBe(theirs[0]?.seq);
      expect(await other.claimForwards("b", t + 1000, 10, 30_000)).toEqual([]);
      expect(await other.settleForward(theirs[0]?.seq ?? 0, "b", { status: "pending", attempts: 1, nextAttemptAt: t + 35_000, error: "HTTP 503" })).toBe(true);
      // "a" died: its lease runs out, and "b" takes the event over.
      const takenOver = await other.claimForwards("b", t + 31_000, 10, 30_000);
      expect(takenOver.map((due) => due.seq)).toEqual([mine[0]?.seq]);
      expect(takenOver[0]?.body).toMatchObject({ event: "share_social" });
      expect(await store.settleForward(mine[0]?.seq ?? 0, "a", { status: "sent", attempts: 1, nextAttemptAt: 0, error: null })).toBe(false);
      expect(await other.settleForward(mine[0]?.seq ?? 0, "b", { status: "sent", attempts: 1, nextAttemptAt: 0, error: null })).toBe(true);
      expect(await store.claimForwards("a", t + 32_000, 10, 30_000)).toEqual([]);
      expect((await store.claimForwards("a", t + 36_000, 10, 30_000)).map((due) => [due.seq, due.attempts])).toEqual([[theirs[0]?.seq, 1]]);
      expect((await store.stats()).forwarding).toEqual({ pending: 1, sent: 1 });
    });

    it("a pause stops every collector's claims until it ends, and is never shortened", async () => {
      const { store, again } = await open();
      const other = await again();
      await store.storeBatch([item(checked())], now(), "browser");
      const t = Date.now();
      await store.pauseForwarding(t + 10_000);
      await other.pauseForwarding(t + 5_000);
      expect(await other.forwardingPausedUntil()).toBe(t + 10_000);
      expect(await other.claimForwards("b", t + 9_000, 10, 30_000)).toEqual([]);
      expect(await other.claimForwards("b", t + 10_000, 10, 30_000)).toHaveLength(1);
    });

    it("retention deletes old settled events, keeps pending and newer ones, and the once-per-customer claims", async () => {
      const { store } = await open();
      const old = "2026-01-01T00:00:00.000Z";
      const [sent, pending, signup] = [checked(), checked(), checked({ event: "signed_up", customer: { source_id: "alex@x.io" } })];
      await store.storeBatch([item(sent), item(pending), item(signup, true)], old, "server");
      const fresh = checked();
      await store.storeBatch([item(fresh)], now(), "browser");
      const t = Date.now();
      for (const due of await store.claimForwards("a", t, 10, 30_000)) {
        const settled = due.body.id === pending.id ? { status: "pending" as const, attempts: 1, nextAttemptAt: t + 3_600_000, error: "HTTP 503" } : { status: "sent" as const, attempts: 1, nextAttemptAt: 0, error: null };
        await store.settleForward(due.seq, "a", settled);
      }
      expect(await store.deleteOlderThan("2026-02-01T00:00:00.000Z")).toBe(2);
      expect((await store.list({ limit: 10 })).events.map((event) => event.id)).toEqual([fresh.id, pending.id]);
      expect(await store.storeBatch([item(checked({ event: "signed_up", customer: { source_id: "alex@x.io" } }), true)], now(), "server")).toMatchObject({ stored: 0, duplicates: 1 });
      expect((await store.stats()).forwarding).toEqual({ pending: 1, sent: 1 });
    });
  });
});

describe.skipIf(missing !== null)("PostgreSQL setup", () => {
  it("commits durably even where the database was tuned to skip waiting for the disk", async () => {
    const url = await cluster().createDatabase(`tuned_${process.pid}`);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`ALTER DATABASE "tuned_${process.pid}" SET synchronous_commit = off`);
    const plain = await admin.query<{ synchronous_commit: string }>("SHOW synchronous_commit");
    await admin.end();
    expect(plain.rows[0]?.synchronous_commit).toBe("on"); // this session began before the change
    const pool = openPool({ url });
    const ours = await pool.query<{ synchronous_commit: string }>("SHOW synchronous_commit");
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    const theirs = await other.query<{ synchronous_commit: string }>("SHOW synchronous_commit");
    await other.end();
    await pool.end();
    expect([ours.rows[0]?.synchronous_commit, theirs.rows[0]?.synchronous_commit]).toEqual(["on", "off"]);
  });

  it("collectors starting together on a fresh database migrate it once, one after the other", async () => {
    const url = await cluster().createDatabase(`migrate_${process.pid}`);
    const stores = await Promise.all(Array.from({ length: 6 }, () => openEventStore(url, { forwarding: false })));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
    await client.end();
    expect(rows.map((row) => row.version)).toEqual(rows.map((_, n) => n + 1));
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(await stores[0]?.storeBatch([item(checked())], now(), "browser")).toMatchObject({ stored: 1 });
    await Promise.all(stores.map((store) => store.close()));
  });
});
