// Commands kept across a navigation: made before the tracker was there (landing.ts), or accepted by the tracker but not
// yet in the outbox when the page went away (tracker.ts). In localStorage, because a leaving page can only write
// synchronously; per destination, as the outbox is. The `reftrack_pending` cookie tells the next page to look.
import { hasId, PENDING_KEY, type Pending, type Unchecked } from "./handoff.js";
import { setWaiting } from "./state-cookie.js";

/** A busy visitor's clicks, not a log that grows without end: a tracker that never loads must not fill storage. */
const MAX_KEPT = 100;

/** Web Storage as JSON that never throws: blocked storage holds nothing, and a full one refuses the write. */
export const webStorage = (win: Window) => ({
  read(key: string): unknown {
    try {
      return JSON.parse(win.localStorage.getItem(key) ?? "null");
    } catch {
      return null;
    }
  },
  write(key: string, value: unknown): boolean {
    try {
      if (value === null) win.localStorage.removeItem(key);
      else win.localStorage.setItem(key, JSON.stringify(value));
      return true;
    } catch {
      return false;
    }
  },
});

export type KeptCommands = ReturnType<typeof keptCommands>;

/** `destination`: the endpoint, or Voucherify's application id, as the page gave it. */
export function keptCommands(win: Window, destination: string, secure: boolean) {
  const key = `${PENDING_KEY}:${destination}`;
  const storage = webStorage(win);
  const read = (): Unchecked[] => {
    const value = storage.read(key);
    return Array.isArray(value) ? value.filter(hasId) : [];
  };
  const save = (entries: Unchecked[]) => {
    const saved = storage.write(key, entries.length > 0 ? entries : null);
    if (saved) setWaiting(win.document, "pending", entries.length > 0, secure);
    return saved;
  };
  return {
    read,
    /** Read, add, write: another tab of the site may have added its own since. The oldest go first past the bound. */
    add: (entries: Unchecked[]): boolean => save([...read(), ...entries].slice(-MAX_KEPT)),
    remove: (id: string) => void save(read().filter((entry) => entry.id !== id)),
    clear: () => void save([]),
  };
}

/**
 * Whether a kept entry is an earlier page's, for this page to take: made before it opened. A later one is another
 * open tab's, which sends it itself; one "made" after now was made before the clock went back, and is taken too.
 */
export const madeEarlier = (entry: Unchecked, opened: number, now: number): boolean => {
  const made = (entry as { at?: unknown }).at;
  return typeof made !== "number" || made < opened || made > now + 60_000;
};

/**
 * Events the tracker accepted that are not in the outbox yet (waiting for the schema, or for an identify's write):
 * memory alone holds them, so a page that goes away (a tracked form's submit, a link) keeps them for the next one.
 */
export function holdUntilQueued(commands: KeptCommands, allowed: () => boolean) {
  const held = new Map<string, Pending>();
  const saved = new Set<string>();
  return {
    hold<T>(entry: Pending, queued: Promise<T>): Promise<T> {
      held.set(entry.id, entry);
      const release = () => {
        held.delete(entry.id);
        if (saved.delete(entry.id)) commands.remove(entry.id);
      };
      queued.then(release, release);
      return queued;
    },
    /** The page is leaving, or hidden (and may be discarded without another word). */
    save(): void {
      const fresh = [...held.values()].filter((entry) => !saved.has(entry.id));
      if (fresh.length === 0 || !allowed() || !commands.add(fresh)) return;
      for (const entry of fresh) saved.add(entry.id);
    },
    /** The visitor declined: nothing is kept, and what was is deleted with the rest of the device's state. */
    forget(): void {
      held.clear();
      saved.clear();
    },
  };
}
