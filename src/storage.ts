// Where reftrack keeps its state: IndexedDB through idb-keyval, or memory where IndexedDB is blocked.
import { createStore, del, get, set, type UseStore } from "idb-keyval";

export interface KeyValueStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
}

export function memoryStore(): KeyValueStore {
  const values = new Map<string, unknown>();
  return {
    get: async <T,>(key: string) => values.get(key) as T | undefined,
    set: async (key, value) => void values.set(key, structuredClone(value)),
    del: async (key) => void values.delete(key),
  };
}

/**
 * A store of reftrack's own in IndexedDB. The first failure (IndexedDB missing, blocked by the browser's privacy
 * settings, quota) moves it to memory for the rest of the page's life and is reported once: the page keeps working.
 */
export function browserStore(dbName: string, storeName: string, onFailure: (error: unknown) => void): KeyValueStore {
  let idb: UseStore | null = null;
  let fallback: KeyValueStore | null = null;
  const fail = (error: unknown): KeyValueStore => {
    if (!fallback) {
      fallback = memoryStore();
      onFailure(error);
    }
    return fallback;
  };
  const attempt = async <T,>(use: (store: UseStore) => Promise<T>, inMemory: (store: KeyValueStore) => Promise<T>): Promise<T> => {
    if (fallback) return inMemory(fallback);
    try {
      idb ??= createStore(dbName, storeName);
      return await use(idb);
    } catch (error) {
      return inMemory(fail(error));
    }
  };
  return {
    get: <T,>(key: string) => attempt((store) => get<T>(key, store), (memory) => memory.get<T>(key)),
    set: (key, value) => attempt((store) => set(key, value, store), (memory) => memory.set(key, value)),
    del: (key) => attempt((store) => del(key, store), (memory) => memory.del(key)),
  };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}
