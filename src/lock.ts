// One tab sends at a time, so two tabs never post the same events at once.
import { promisifyRequest, type UseStore } from "idb-keyval";

/** Runs `work` while holding the site-wide send lock; resolves false at once when another tab holds it. */
export type SendLock = (work: () => Promise<void>) => Promise<boolean>;

/** `navigator.locks` (every current browser): the lock is released even when the tab holding it crashes. */
export function webLock(locks: LockManager, name: string, fallback: SendLock): SendLock {
  return async (work) => {
    let started = false;
    try {
      return await locks.request(name, { ifAvailable: true }, async (lock) => {
        if (!lock) return false;
        started = true;
        await work();
        return true;
      });
    } catch (error) {
      // A sandboxed frame may refuse locks (SecurityError): sending uncoordinated beats not sending.
      if (started) throw error;
      return fallback(work);
    }
  };
}

export interface LeaseRecord {
  owner: string;
  until: number;
}

/** Whether `owner` may take a lease that is `current` now: none, expired, or already its own. */
export function mayTakeLease(current: LeaseRecord | undefined, owner: string, now: number): boolean {
  return !current || current.until <= now || current.owner === owner;
}

/**
 * Where `navigator.locks` is missing: a lease in the outbox's own store, taken in a readwrite transaction (which
 * IndexedDB serialises across tabs) and renewed while work goes on. A tab that dies keeps it only until it expires.
 */
export function leaseLock(store: UseStore, owner: string, now: () => number, leaseMs = 30_000): SendLock {
  const KEY = "lease";
  // Async, so that storage refusing at once (a sandboxed document: `indexedDB.open` throws) is a rejection the
  // fallbacks below catch, not a throw past them that stops every send of the page.
  const take = async () =>
    store("readwrite", async (objects) => {
      const current = (await promisifyRequest(objects.get(KEY))) as LeaseRecord | undefined;
      if (!mayTakeLease(current, owner, now())) return false;
      objects.put({ owner, until: now() + leaseMs } satisfies LeaseRecord, KEY);
      await promisifyRequest(objects.transaction);
      return true;
    });
  const release = async () =>
    store("readwrite", async (objects) => {
      const current = (await promisifyRequest(objects.get(KEY))) as LeaseRecord | undefined;
      if (current?.owner === owner) objects.delete(KEY);
      await promisifyRequest(objects.transaction);
    });
  return async (work) => {
    // Storage that refuses the lease cannot coordinate anything: send uncoordinated rather than never.
    if (!(await take().catch(() => true))) return false;
    const renew = setInterval(() => void take().catch(() => undefined), leaseMs / 3);
    try {
      await work();
    } finally {
      clearInterval(renew);
      await release().catch(() => undefined);
    }
    return true;
  };
}

/** Within one tab (and where storage is in memory), sends still must not overlap. */
export function localLock(): SendLock {
  let held = false;
  return async (work) => {
    if (held) return false;
    held = true;
    try {
      await work();
    } finally {
      held = false;
    }
    return true;
  };
}
