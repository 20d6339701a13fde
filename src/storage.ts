// Where reftrack keeps things: IndexedDB through idb-keyval, or memory where IndexedDB is blocked.
import { createStore, promisifyRequest, type UseStore } from "idb-keyval";

export interface KeyValueStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
  clear(): Promise<void>;
}

export function memoryStore(): KeyValueStore {
  const values = new Map<string, unknown>();
  return {
    get: async <T,>(key: string) => values.get(key) as T | undefined,
    set: async (key, value) => void values.set(key, structuredClone(value)),
    del: async (key) => void values.delete(key),
    clear: async () => values.clear(),
  };
}

/** Makes `change` in one readwrite transaction of `store`; resolves once it is committed. */
export const commitIn = (store: UseStore, change: (objects: IDBObjectStore) => void): Promise<void> =>
  store("readwrite", (objects) => {
    change(objects);
    return promisifyRequest(objects.transaction);
  }) as Promise<void>;

/**
 * idb-keyval's get, set, del and clear on `store`, written out: its own functions default to a database of their own,
 * which would come along into the bundle.
 */
export function idbKeyValue(store: UseStore): KeyValueStore {
  return {
    get: (key) => store("readonly", (objects) => promisifyRequest(objects.get(key))),
    set: (key, value) => commitIn(store, (objects) => objects.put(value, key)),
    del: (key) => commitIn(store, (objects) => objects.delete(key)),
    clear: () => commitIn(store, (objects) => objects.clear()),
  };
}

/**
 * An object of async methods whose implementation can be swapped while callers hold it: the tracker's storage
 * moves from memory to IndexedDB when the visitor consents.
 */
export function switchable<T extends AsyncMethods<T>>(initial: T): { api: T; use(next: T): void; current(): T } {
  let current = initial;
  const api = {} as Record<keyof T, unknown>;
  for (const name of Object.keys(initial) as (keyof T)[]) api[name] = (...args: never[]) => current[name](...args);
  return { api: api as T, use: (next) => void (current = next), current: () => current };
}

type AsyncMethods<T> = { [K in keyof T]: (...args: never[]) => Promise<unknown> };

/**
 * `open()` (IndexedDB) until it fails twice in a row (missing, blocked by privacy settings, quota, an unreadable
 * entry); from then on `memory`, for the rest of the page's life. The first failure is retried once on a fresh
 * connection, since Safari may drop one that then works again. The call that failed is answered by memory too, so a
 * failed write keeps what it carried, and `onFailure` hears it once: the page keeps working.
 */
export function withMemoryFallback<T extends AsyncMethods<T>>(open: () => T, memory: T, onFailure: (error: unknown) => void): T {
  let primary: T | null = null;
  let failed = false;
  const wrapped = {} as Record<keyof T, unknown>;
  for (const name of Object.keys(memory) as (keyof T)[]) {
    wrapped[name] = async (...args: never[]) => {
      for (let attempt = 0; attempt < 2 && !failed; attempt++) {
        try {
          primary ??= open();
          return await primary[name](...args);
        } catch (error) {
          primary = null;
          if (attempt === 1) {
            failed = true;
            onFailure(error);
          }
        }
      }
      return memory[name](...args);
    };
  }
  return wrapped as T;
}

export function browserStore(dbName: string, storeName: string, onFailure: (error: unknown) => void): KeyValueStore {
  return withMemoryFallback(() => idbKeyValue(createStore(dbName, storeName)), memoryStore(), onFailure);
}

/**
 * One JSON value in Web Storage (synchronous, shared by the site's tabs, kept across page loads), read through
 * `isValid`; memory stands in where storage is blocked or full, or holds something else.
 */
export function webStorageCell<T>(storage: () => Storage, key: string, initial: T, isValid: (value: unknown) => value is T) {
  let memory = initial;
  return {
    read(): T {
      try {
        const stored: unknown = JSON.parse(storage().getItem(key) ?? "null");
        if (isValid(stored)) return stored;
      } catch {
        // blocked or unreadable: memory answers
      }
      return memory;
    },
    write(value: T): void {
      memory = value;
      try {
        storage().setItem(key, JSON.stringify(value));
      } catch {
        // blocked or full: memory keeps it for this page
      }
    },
  };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}
