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
    // An empty list clears the flag even where storage refuses: nothing there is worth a look.
    if (saved || entries.length === 0) setWaiting(win.document, "pending", saved && entries.length > 0, secure);
    return saved;
  };
  return {
    read,
    /**
     * Read, add, write: another tab of the site may have added its own since. Past the bound nothing more is kept
     * (false, as where storage refuses): what the list holds was promised to the page, and is never pushed out.
     */
    add: (entries: Unchecked[]): boolean => {
      const next = [...read(), ...entries];
      return next.length <= MAX_KEPT && save(next);
    },
    remove: (id: string) => void save(read().filter((entry) => entry.id !== id)),
    clear: () => void save([]),
  };
}

/**
 * Whether a kept entry is an earlier page's, for this page to take: made before it opened (or in the same
 * millisecond: clocks are coarse, Firefox's resistFingerprinting rounds to 100 ms). A later one is another open tab's,
 * which sends it itself; one "made" after now was made before the clock went back, and is taken too.
 */
export const madeEarlier = (entry: Unchecked, opened: number, now: number): boolean => {
  const made = (entry as { at?: unknown }).at;
  return typeof made !== "number" || made <= opened || made > now + 60_000;
};

/**
 * Commands the tracker accepted that are not written to the outbox yet (an event waiting for the schema, or behind a
 * form's identify, or for its write; an identify or reset among them): a page that goes away meanwhile (a tracked
 * form's submit, a link) keeps them, in order, for the next one. The next page skips an event its outbox holds
 * already (tracker.ts), since a write started in a page's last moment may still commit.
 */
export function holdUntilWritten(commands: KeptCommands, allowed: () => boolean, report: (error: Error) => void, maxEventBytes: number) {
  const held = new Map<string, Pending>();
  const saved = new Set<string>();
  return {
    /** Returns the release, for when the command is written or failed; calling it twice is harmless. */
    hold(entry: Pending): () => void {
      held.set(entry.id, entry);
      return () => {
        held.delete(entry.id);
        if (saved.delete(entry.id)) commands.remove(entry.id);
      };
    },
    /**
     * The page is going away (`pagehide`, or frozen before a discard), not merely hidden: a hidden tab goes on sending,
     * and a copy kept for the next page would reach the endpoint twice while no page unloads. What the list holds
     * already (the first file's entries, handed over) is not added twice, nor what a keepalive request carries
     * (`onTheWire`, where the destination cannot drop a second copy); nor what JSON cannot hold, or an event far over the
     * size limit, which the check would refuse anyway and which would cost the others their place in storage.
     */
    save(onTheWire: readonly string[]): void {
      if (held.size === 0 || !allowed()) return;
      const kept = commands.read();
      const listed = new Set([...kept.map((entry) => entry.id), ...onTheWire]);
      const fresh = [...held.values()].filter((entry) => !listed.has(entry.id) && fits(entry, maxEventBytes));
      // As many as the bound leaves room for, the earliest first: an identify stays with the events after it.
      const taken = fresh.slice(0, Math.max(0, MAX_KEPT - kept.length));
      const added = taken.length > 0 && commands.add(taken);
      if (added) for (const entry of taken) saved.add(entry.id);
      const lost = fresh.length - (added ? taken.length : 0);
      if (lost > 0) report(new Error(`${lost} command(s) this page had not written to its outbox when it went away could not be kept in localStorage (storage full or blocked, or ${MAX_KEPT} commands kept already); they are lost`));
    },
    /** The page came back from the back-forward cache: it sends what it kept itself, unless a later page took it. */
    restore(): void {
      for (const id of saved) commands.remove(id);
      saved.clear();
    },
    /** The visitor declined: nothing is kept, and what was is deleted with the rest of the device's state. */
    forget(): void {
      held.clear();
      saved.clear();
    },
  };
}

const fits = (entry: Pending, maxEventBytes: number) => {
  try {
    // Characters, not bytes, and the page beside the event: twice the limit leaves room for every event it allows.
    return JSON.stringify(entry).length <= 2 * maxEventBytes;
  } catch {
    return false;
  }
};
