// The consent choice and the stored referral, as the first file reads them when a page opens: from IndexedDB,
// asynchronously, since in a fresh Chromium renderer the first synchronous `localStorage` read blocks the main thread
// for milliseconds while the browser answers (README, "Landing cost"). localStorage keeps the tracker's copy of the
// choice; the first file reads it only when a command needs the answer before IndexedDB gives it, or where
// IndexedDB is unusable.
import { createStore, promisifyRequest, type UseStore } from "idb-keyval";
import { isConsentChoice, type ConsentChoice } from "./consent.js";
import type { Referral } from "./referral.js";
import { commitIn } from "./storage.js";

/** The tracker's state store: the referral lives there already, the choice beside it. */
export const STATE_DB = "reftrack";
export const STATE_STORE = "state";
export const CONSENT_STATE_KEY = "consent";

export interface Remembered {
  choice: ConsentChoice | null;
  referral: Referral | null;
}

/**
 * The state store, opened only where it exists already or once something is to be kept: a visitor who has not
 * consented (where the site asks) gets no database made by merely reading. Where the browser cannot list its
 * databases (Firefox before 126), reading is left to the synchronous copies.
 */
export function stateStore(win: Window) {
  let store: UseStore | null = null;
  const open = () => (store ??= createStore(STATE_DB, STATE_STORE));
  const write = async (change: (objects: IDBObjectStore) => void): Promise<void> => {
    try {
      await commitIn(open(), change);
    } catch {
      // IndexedDB blocked or full: the tracker says so when it arrives
    }
  };
  return {
    /** Null where IndexedDB cannot be read without making a database: the caller reads the synchronous copies. */
    async read(): Promise<Remembered | null> {
      try {
        // An opaque origin (a sandboxed document) has no storage; Chromium even reports the attempt as unhandled.
        if (win.origin === "null" || typeof win.indexedDB?.databases !== "function") return null;
        const listed = await win.indexedDB.databases();
        if (!listed.some((database) => database.name === STATE_DB)) return { choice: null, referral: null };
        const [choice, referral] = await open()("readonly", (objects) => Promise.all([CONSENT_STATE_KEY, "referral"].map((key) => promisifyRequest(objects.get(key)))));
        return { choice: isConsentChoice(choice) ? choice : null, referral: (referral as Referral | undefined) ?? null };
      } catch {
        return null;
      }
    },
    /** Writes in one transaction; a failure is left to the copies in localStorage and the cookie. */
    write,
    /** Reads `key` and writes what `next` makes of it, in the same transaction. */
    update<T>(key: string, next: (current: T | undefined) => T | undefined): Promise<void> {
      return write((objects) => {
        const read = objects.get(key);
        read.onsuccess = () => {
          const value = next(read.result as T | undefined);
          if (value !== undefined) objects.put(value, key);
        };
      });
    },
  };
}

/**
 * Empties every queued outbox of the site (events for any destination, customers' details among them), except
 * `keep`. Emptied, not deleted: another open tab holding one open would block a deletion, and every later opening
 * would wait behind it.
 */
export function clearOutboxes(win: Window, keep = ""): void {
  // An opaque origin (a sandboxed document) has no databases, and Chromium reports even a handled refusal of the list.
  if (win.origin === "null") return;
  void win.indexedDB
    ?.databases?.()
    .then((list) =>
      Promise.all(
        list
          .filter(({ name }) => name?.startsWith("reftrack-outbox:") && name !== keep)
          .map(({ name }) => commitIn(createStore(name ?? "", "events"), (events) => events.clear())),
      ),
    )
    .catch(() => undefined);
}
