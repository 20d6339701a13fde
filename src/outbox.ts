// The outbox: every event `track` accepted, kept in IndexedDB until the endpoint confirms it.
// Shared by every tab of the site (one database), bounded, and ordered by its keys.
import { createStore, promisifyRequest, type UseStore } from "idb-keyval";
import type { WireEvent } from "./event.js";
import { withMemoryFallback } from "./storage.js";

/**
 * `[time, tab, seq, bytes]`: IndexedDB orders array keys element by element, so entries sort by the time they
 * were tracked (then by tab and sequence), and the byte bound can be checked from keys alone, without reading events.
 */
export type OutboxKey = [number, string, number, number];

export interface OutboxEntry {
  key: OutboxKey;
  event: WireEvent;
}

export interface Outbox {
  /** Writes entries durably, all in one transaction; resolves when they are committed. */
  add(entries: OutboxEntry[]): Promise<void>;
  /** The oldest entries, at most `limit`. */
  peek(limit: number): Promise<OutboxEntry[]>;
  remove(keys: OutboxKey[]): Promise<void>;
  count(): Promise<number>;
  /** Forgets every queued event (the visitor declined consent). */
  clear(): Promise<void>;
}

export interface OutboxBounds {
  maxEvents: number;
  maxBytes: number;
  /** Told how many of the oldest events had to go to make room: never silently. */
  onDropped: (count: number) => void;
}

export const DEFAULT_BOUNDS = { maxEvents: 1000, maxBytes: 1_000_000 };

/** The oldest keys to drop so that what remains is within both bounds (`keys` oldest first). */
export function overflow(keys: readonly OutboxKey[], maxEvents: number, maxBytes: number): OutboxKey[] {
  let bytes = keys.reduce((sum, key) => sum + key[3], 0);
  let drop = 0;
  while (drop < keys.length && (keys.length - drop > maxEvents || bytes > maxBytes)) {
    bytes -= keys[drop]?.[3] ?? 0;
    drop++;
  }
  return keys.slice(0, drop);
}

export function compareKeys(a: OutboxKey, b: OutboxKey): number {
  for (let i = 0; i < 3; i++) {
    const x = a[i] as number | string;
    const y = b[i] as number | string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

const sameKey = (a: OutboxKey, b: OutboxKey) => compareKeys(a, b) === 0;

export function memoryOutbox(bounds: OutboxBounds): Outbox {
  let entries: OutboxEntry[] = [];
  return {
    async add(added) {
      entries = [...entries, ...added].sort((a, b) => compareKeys(a.key, b.key));
      const dropped = overflow(entries.map((entry) => entry.key), bounds.maxEvents, bounds.maxBytes);
      if (dropped.length > 0) {
        entries = entries.slice(dropped.length);
        bounds.onDropped(dropped.length);
      }
    },
    peek: async (limit) => entries.slice(0, limit),
    async remove(keys) {
      entries = entries.filter((entry) => !keys.some((key) => sameKey(key, entry.key)));
    },
    count: async () => entries.length,
    clear: async () => void (entries = []),
  };
}

// Only array keys are events; anything else in the store (the lease of lock.ts) sorts before them.
const EVENTS = () => IDBKeyRange.lowerBound([]);

/** The outbox in IndexedDB through idb-keyval's `createStore`, whose callback hands over the raw object store. */
export function idbOutbox(store: UseStore, bounds: OutboxBounds): Outbox {
  return {
    add: (added) =>
      store("readwrite", async (objects) => {
        for (const entry of added) objects.put(entry.event, entry.key);
        // The bound is enforced in the same transaction, so two tabs adding at once cannot both overshoot it.
        const keys = (await promisifyRequest(objects.getAllKeys(EVENTS()))) as OutboxKey[];
        const dropped = overflow(keys, bounds.maxEvents, bounds.maxBytes);
        for (const key of dropped) objects.delete(key);
        await promisifyRequest(objects.transaction);
        if (dropped.length > 0) bounds.onDropped(dropped.length);
      }),
    peek: (limit) =>
      store("readonly", async (objects) => {
        const [keys, events] = await Promise.all([
          promisifyRequest(objects.getAllKeys(EVENTS(), limit)) as Promise<OutboxKey[]>,
          promisifyRequest(objects.getAll(EVENTS(), limit)) as Promise<WireEvent[]>,
        ]);
        return keys.map((key, index) => ({ key, event: events[index] as WireEvent }));
      }),
    remove: (keys) =>
      store("readwrite", (objects) => {
        for (const key of keys) objects.delete(key);
        return promisifyRequest(objects.transaction);
      }),
    count: () => store("readonly", (objects) => promisifyRequest(objects.count(EVENTS()))),
    clear: () =>
      store("readwrite", (objects) => {
        objects.clear();
        return promisifyRequest(objects.transaction);
      }),
  };
}

/** The outbox reftrack uses: IndexedDB, moving to memory for the page at the first failure (see withMemoryFallback). */
export function resilientOutbox(dbName: string, bounds: OutboxBounds, onFailure: (error: unknown) => void): Outbox {
  return withMemoryFallback(() => idbOutbox(createStore(dbName, "events"), bounds), memoryOutbox(bounds), onFailure);
}
