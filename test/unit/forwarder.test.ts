// @vitest-environment node
// The forwarder's queue policy, in process, with a scripted Voucherify.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { openDb } from "../../src/collector/db.js";
import { startForwarder } from "../../src/collector/forwarder.js";
import { createEventStore, openEventStore } from "../../src/collector/store.js";
import { postgresMissing, startPostgres, type PostgresCluster } from "../collector/postgres-cluster.js";

async function setup(answers: { status: number; retryAfter?: string }[], events = 3) {
  const db = openDb(":memory:");
  const store = createEventStore(db, { forwarding: true });
  await store.storeBatch(
    Array.from({ length: events }, (_, n) => ({ event: { id: `e${n}`, event: "e", customer: { source_id: "c" }, metadata: {} }, oncePerCustomer: false })),
    new Date().toISOString(),
    "browser",
  );
  const calls: number[] = [];
  const fetch = vi.fn(async () => {
    calls.push(Date.now());
    const answer = answers.shift() ?? { status: 200 };
    if (answer.status === 0) throw new TypeError("fetch failed");
    return new Response("{}", { status: answer.status, headers: answer.retryAfter ? { "Retry-After": answer.retryAfter } : {} });
  });
  const forwarder = startForwarder({ store, apiUrl: "https://voucherify.test", appId: "a", secretKey: "s", fetch: fetch as unknown as typeof globalThis.fetch, idleMs: 20, random: () => 0.5, credentialsPauseMs: 60_000 });
  const statuses = async () => (await store.list({ limit: 100 })).events.map((event) => event.forwarding?.status);
  return { db, store, forwarder, calls, statuses };
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.map((run) => run()));
  cleanup = [];
});
const started = async (...args: Parameters<typeof setup>) => {
  const result = await setup(...args);
  cleanup.push(async () => {
    await result.forwarder.stop();
    result.db.close();
  });
  return result;
};

describe("the forwarder", () => {
  it("a 429 pauses the whole queue for its Retry-After, and new events cannot cut the pause short", async () => {
    const { forwarder, calls, statuses } = await started([{ status: 429, retryAfter: "1" }]);
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    for (let i = 0; i < 5; i++) forwarder.wake();
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(calls).toHaveLength(1);
    await vi.waitFor(async () => expect(await statuses()).toEqual(["sent", "sent", "sent"]), { timeout: 3000 });
    expect((calls[1] ?? 0) - (calls[0] ?? 0)).toBeGreaterThanOrEqual(990);
  });

  it("stop() during a long pause returns at once", async () => {
    const { forwarder, calls } = await setup([{ status: 429, retryAfter: "300" }]);
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    const before = Date.now();
    await forwarder.stop();
    expect(Date.now() - before).toBeLessThan(500);
  });

  it("an outage of many failed attempts fails nothing: the queue backs off and waits", async () => {
    // Waits of 0.5, 1, 2 and 4 s (random 0.5): each failure doubles the pause of the whole queue.
    const { calls, statuses, store } = await started(Array.from({ length: 4 }, () => ({ status: 503 })));
    await vi.waitFor(async () => expect(await statuses()).toEqual(["sent", "sent", "sent"]), { timeout: 15_000 });
    expect(calls.length).toBe(7);
    expect((calls[4] ?? 0) - (calls[3] ?? 0)).toBeGreaterThanOrEqual(3990);
    expect((await store.list({ limit: 10 })).events.map((event) => event.forwarding?.attempts)).toEqual([1, 1, 5]);
  }, 30_000);

  it("401 leaves every event pending with no attempt counted", async () => {
    const { calls, store } = await started([{ status: 401 }]);
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(calls).toHaveLength(1);
    expect((await store.list({ limit: 10 })).events.map((event) => [event.forwarding?.status, event.forwarding?.attempts])).toEqual([
      ["pending", 0],
      ["pending", 0],
      ["pending", 0],
    ]);
  });

  it("a 404 from Voucherify is final for that event, and the queue goes on", async () => {
    const { statuses } = await started([{ status: 404 }]);
    await vi.waitFor(async () => expect(await statuses()).toEqual(["sent", "sent", "failed"]));
  });
});

describe("a failing database", () => {
  it("pauses forwarding instead of crashing, and never resends an event whose 'sent' could not be recorded", async () => {
    const db = openDb(":memory:");
    const store = createEventStore(db, { forwarding: true });
    await store.storeBatch(
      Array.from({ length: 3 }, (_, n) => ({ event: { id: `f${n}`, event: "e", customer: { source_id: "c" }, metadata: {} }, oncePerCustomer: false })),
      new Date().toISOString(),
      "browser",
    );
    const full = () => Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
    let markFailures = 2;
    let dueFailures = 1;
    const settleForward = store.settleForward.bind(store);
    const claimForwards = store.claimForwards.bind(store);
    store.settleForward = async (...args) => {
      if (markFailures-- > 0) throw full();
      return settleForward(...args);
    };
    store.claimForwards = async (...args) => {
      if (dueFailures-- > 0) throw full();
      return claimForwards(...args);
    };
    const fetch = vi.fn(async () => new Response("{}", { status: 200 }));
    const logs: string[] = [];
    const forwarder = startForwarder({
      store,
      apiUrl: "https://voucherify.test",
      appId: "a",
      secretKey: "s",
      fetch: fetch as unknown as typeof globalThis.fetch,
      idleMs: 20,
      storePauseMs: 50,
      log: (_level, message) => void logs.push(message),
    });
    try {
      await vi.waitFor(async () => expect((await store.list({ limit: 10 })).events.map((event) => event.forwarding?.status)).toEqual(["sent", "sent", "sent"]), { timeout: 5000 });
      expect(fetch).toHaveBeenCalledTimes(3);
      expect(logs.filter((line) => line.includes("SQLITE_FULL")).length).toBeGreaterThanOrEqual(2);
    } finally {
      await forwarder.stop();
      db.close();
    }
  });
});

describe.skipIf(postgresMissing() !== null)("two collectors' forwarders on one PostgreSQL queue", () => {
  let cluster: PostgresCluster | null = null;
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  /** Two stores on one fresh database (two collectors), `events` events queued, and a forwarder on each. */
  async function pair(name: string, events: number, answer: (key: string) => { status: number; retryAfter?: string }) {
    if (!cluster) throw new Error("no cluster");
    const url = await cluster.createDatabase(name);
    const stores = await Promise.all([openEventStore(url, { forwarding: true }), openEventStore(url, { forwarding: true })]);
    await stores[0]?.storeBatch(
      Array.from({ length: events }, (_, n) => ({ event: { id: `${name}-${n}-xxxxxxxx`, event: "e", customer: { source_id: "c" }, metadata: { key: `k${n}` } }, oncePerCustomer: false })),
      new Date().toISOString(),
      "browser",
    );
    const calls: { at: number; key: string; by: number }[] = [];
    const forwarders = stores.map((store, by) =>
      startForwarder({
        store,
        apiUrl: "https://voucherify.test",
        appId: "a",
        secretKey: "s",
        idleMs: 20,
        random: () => 0.5,
        fetch: (async (_url: string, init: { body: string }) => {
          const key = String((JSON.parse(init.body) as { metadata: { key: string } }).metadata.key);
          calls.push({ at: Date.now(), key, by });
          await new Promise((resolve) => setTimeout(resolve, 20));
          const { status, retryAfter } = answer(key);
          return new Response("{}", { status, headers: retryAfter ? { "Retry-After": retryAfter } : {} });
        }) as unknown as typeof globalThis.fetch,
      }),
    );
    const sent = async () => (await stores[1]?.stats())?.forwarding.sent ?? 0;
    const close = async () => {
      await Promise.all(forwarders.map((forwarder) => forwarder.stop()));
      await Promise.all(stores.map((store) => store.close()));
    };
    return { calls, sent, close };
  }

  it("share the queue: every event goes to Voucherify once, and both collectors send", async () => {
    const { calls, sent, close } = await pair("share", 40, () => ({ status: 200 }));
    try {
      await vi.waitFor(async () => expect(await sent()).toBe(40), { timeout: 15_000 });
      expect(new Set(calls.map((call) => call.key)).size).toBe(40);
      expect(calls).toHaveLength(40);
      expect(new Set(calls.map((call) => call.by))).toEqual(new Set([0, 1]));
    } finally {
      await close();
    }
  });

  it("a 429 one collector gets pauses the other for its Retry-After too", async () => {
    let limited = false;
    const { calls, sent, close } = await pair("pause", 60, () => (limited ? { status: 200 } : ((limited = true), { status: 429, retryAfter: "2" })));
    try {
      await vi.waitFor(async () => expect(await sent()).toBe(60), { timeout: 15_000 });
      const first = calls[0]?.at ?? 0;
      // The other collector's request in flight at that moment may land; then nothing is sent by either for 2 s.
      const during = calls.slice(1).filter((call) => call.at > first + 300 && call.at < first + 1900);
      expect(during).toEqual([]);
      expect(new Set(calls.map((call) => call.by))).toEqual(new Set([0, 1]));
    } finally {
      await close();
    }
  }, 30_000);
});
