import { describe, expect, it, vi } from "vitest";
import { createStore, type UseStore } from "idb-keyval";
import { idbOutbox, resilientOutbox, type OutboxEntry, type OutboxKey } from "../../src/outbox.js";
import { leaseLock, localLock, mayTakeLease, webLock } from "../../src/lock.js";
import type { WireEvent } from "../../src/event.js";

let databases = 0;
const freshDb = () => `outbox-test-${databases++}`;
const entry = (time: number, tab: string, seq: number, bytes = 100): OutboxEntry => ({
  key: [time, tab, seq, bytes] as OutboxKey,
  event: { id: `${tab}-${seq}`, event: "e" } as WireEvent,
});
const unbounded = { maxEvents: 1000, maxBytes: 1_000_000, onDropped: () => undefined };

describe("the IndexedDB outbox", () => {
  it("keeps entries from several tabs in the order they were tracked, and removes by key", async () => {
    const name = freshDb();
    const tabA = idbOutbox(createStore(name, "events"), unbounded);
    const tabB = idbOutbox(createStore(name, "events"), unbounded);
    await tabA.add([entry(3, "a", 0), entry(5, "a", 1)]);
    await tabB.add([entry(4, "b", 0), entry(5, "b", 1)]);
    // By time, then tab: a-1 and b-1 were tracked in the same millisecond.
    expect((await tabA.peek(10)).map((item) => item.event.id)).toEqual(["a-0", "b-0", "a-1", "b-1"]);
    await tabB.remove([entry(4, "b", 0).key]);
    expect((await tabA.peek(2)).map((item) => item.event.id)).toEqual(["a-0", "a-1"]);
    expect(await tabA.count()).toBe(3);
  });

  it("drops the oldest entries beyond its bounds in the writing transaction, and says how many", async () => {
    const dropped: number[] = [];
    const outbox = idbOutbox(createStore(freshDb(), "events"), { maxEvents: 3, maxBytes: 250, onDropped: (count) => dropped.push(count) });
    await outbox.add([entry(1, "a", 0), entry(2, "a", 1)]);
    await outbox.add([entry(3, "a", 2), entry(4, "a", 3)]);
    expect(dropped).toEqual([2]);
    expect((await outbox.peek(10)).map((item) => item.event.id)).toEqual(["a-2", "a-3"]);
  });

  it("moves to memory where IndexedDB is blocked, keeps the events of the failed write, and says so once", async () => {
    const failures: unknown[] = [];
    const open = vi.spyOn(indexedDB, "open").mockImplementation(() => {
      throw new DOMException("blocked", "SecurityError");
    });
    const outbox = resilientOutbox(freshDb(), unbounded, (error) => failures.push(error));
    await outbox.add([entry(1, "a", 0)]);
    await outbox.add([entry(2, "a", 1)]);
    expect((await outbox.peek(10)).map((item) => item.event.id)).toEqual(["a-0", "a-1"]);
    expect(failures).toHaveLength(1);
    open.mockRestore();
  });

  it("moves to memory when a write fails (quota), keeping what that write carried", async () => {
    const failures: unknown[] = [];
    const outbox = resilientOutbox(freshDb(), unbounded, (error) => failures.push(error));
    await outbox.add([entry(1, "a", 0)]);
    const put = vi.spyOn(IDBObjectStore.prototype, "put").mockImplementation(() => {
      throw new DOMException("quota", "QuotaExceededError");
    });
    await outbox.add([entry(2, "a", 1)]);
    put.mockRestore();
    expect((await outbox.peek(10)).map((item) => item.event.id)).toEqual(["a-1"]);
    expect(failures).toEqual([expect.objectContaining({ name: "QuotaExceededError" })]);
  });
});

describe("the send lock", () => {
  it("gives a lease to nobody else until it expires", () => {
    expect(mayTakeLease(undefined, "a", 0)).toBe(true);
    expect(mayTakeLease({ owner: "b", until: 100 }, "a", 99)).toBe(false);
    expect(mayTakeLease({ owner: "b", until: 100 }, "a", 100)).toBe(true);
    expect(mayTakeLease({ owner: "a", until: 100 }, "a", 50)).toBe(true);
  });

  it("lease: a second tab cannot send while the first does, and can after", async () => {
    const store = createStore(freshDb(), "events");
    const tabA = leaseLock(store, "a", Date.now);
    const tabB = leaseLock(store, "b", Date.now);
    let release = () => undefined as void;
    const holding = tabA(() => new Promise<void>((resolve) => (release = resolve)));
    await vi.waitFor(async () => expect(await tabB(async () => undefined)).toBe(false));
    release();
    expect(await holding).toBe(true);
    expect(await tabB(async () => undefined)).toBe(true);
  });

  it("lease: storage that refuses at once (a sandboxed document) sends uncoordinated, and throws nothing later", async () => {
    const refusing = (() => {
      throw new DOMException("The user denied permission to access the database.", "SecurityError");
    }) as unknown as UseStore;
    vi.useFakeTimers();
    try {
      const work = vi.fn(async () => {
        await vi.advanceTimersByTimeAsync(30_000); // past two renewals of the lease
      });
      expect(await leaseLock(refusing, "a", Date.now)(work)).toBe(true);
      expect(work).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("local: one send at a time within a tab", async () => {
    const lock = localLock();
    let release = () => undefined as void;
    const first = lock(() => new Promise<void>((resolve) => (release = resolve)));
    expect(await lock(async () => undefined)).toBe(false);
    release();
    expect(await first).toBe(true);
  });

  it("web locks: falls back when the browser refuses locks, but never runs the work twice", async () => {
    const refusing = { request: () => Promise.reject(new DOMException("no", "SecurityError")) } as unknown as LockManager;
    const work = vi.fn(async () => undefined);
    expect(await webLock(refusing, "x", localLock())(work)).toBe(true);
    expect(work).toHaveBeenCalledTimes(1);
    const granting = { request: (_n: string, _o: unknown, callback: (lock: unknown) => Promise<boolean>) => callback({}) } as unknown as LockManager;
    const failing = vi.fn(async () => {
      throw new Error("boom");
    });
    await expect(webLock(granting, "x", localLock())(failing)).rejects.toThrow("boom");
    expect(failing).toHaveBeenCalledTimes(1);
  });
});
