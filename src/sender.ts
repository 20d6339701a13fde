// Delivery: events go into the outbox, and from there to the endpoint, in order, until a response confirms them.
// Every timer, request and storage call comes in through options, so the whole policy runs under fake timers.
import type { WireEvent } from "./event.js";
import type { SendLock } from "./lock.js";
import { compareKeys, type Outbox, type OutboxEntry, type OutboxKey } from "./outbox.js";
import { batchLength, byteLength, MAX_BODY_BYTES, paceWait, parseRetryAfter, post, RETRY_CAP_MS, retryDelay, type Destination, type PostResult, type RejectedEvent } from "./transport.js";

export interface Sender {
  /** Resolves once the events are committed to the outbox; events of the same tick share one transaction. */
  enqueue(events: { event: WireEvent; bytes: number }[]): Promise<void>;
  /** Sends what waits in the outbox (every tab's), unless another tab is sending or a backoff is running. */
  flush(): Promise<void>;
  /**
   * The page is hidden (`unloading` false: it may come back, or be discarded) or unloading: this tab's unconfirmed
   * events leave with `keepalive` and stay queued until confirmed. Only an unload resends a batch already in flight,
   * since the browser cancels that request. Returns the ids of the events an unload put on the wire.
   */
  flushOnExit(unloading: boolean): string[];
  /** The browser is back online (or consent was given): a wait caused by the network ends now. */
  online(): void;
  /** Forgets this page's unsent events (the visitor declined consent; the outbox was cleared too). */
  forget(): void;
}

/**
 * What every tab of the site, and the next page load, must respect: a backoff's end (a `Retry-After` binds the
 * visitor's address, not one page) and when recent requests started (a paced destination's limit is per address).
 */
export interface SendState {
  retryAt: number;
  starts: number[];
}

export interface SharedSendState {
  read(): SendState;
  write(state: SendState): void;
}

export function memorySendState(): SharedSendState {
  let state: SendState = { retryAt: 0, starts: [] };
  return { read: () => state, write: (next) => void (state = next) };
}

export interface SenderOptions {
  /** Shared with other tabs and later page loads; memory only in tests and where storage is blocked. */
  shared?: SharedSendState;
  destination: Destination;
  batchSize: number;
  flushMs: number;
  outbox: Outbox;
  lock: SendLock;
  tabId: string;
  fetch: typeof globalThis.fetch;
  sendBeacon: ((url: string, body: Blob) => boolean) | null;
  /**
   * Online, and allowed to send (consent). When false, nothing is sent, not even from a leaving page. `exiting`: asked
   * for a leaving page's requests, which no later drain of this page can repeat.
   */
  maySend: (exiting?: boolean) => boolean;
  now: () => number;
  random: () => number;
  setTimeout: (callback: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
  onError: (error: Error) => void;
  log: (message: string, detail?: unknown) => void;
  /** Told when the outbox gains events (true) and when a drain finds it empty (false). */
  onBacklog?: (waiting: boolean) => void;
}

const keyId = (key: OutboxKey) => `${key[0]}:${key[1]}:${key[2]}`;
const isWireEvent = (event: unknown): event is WireEvent =>
  typeof event === "object" && event !== null && typeof (event as WireEvent).id === "string" && typeof (event as WireEvent).event === "string";

export function createSender(options: SenderOptions): Sender {
  const { outbox } = options;
  let sequence = 0;
  /** This tab's events not yet confirmed, written or not: what a closing page can still send without storage. */
  const unconfirmed = new Map<string, OutboxEntry>();
  /** Entries in an exit request not yet answered: `visibilitychange` and `pagehide` both fire on close. */
  const leaving = new Set<string>();
  /** Entries in the drain's request now in flight. */
  const sendingNow = new Set<string>();
  let unwritten: OutboxEntry[] = [];
  let writing: Promise<void> | null = null;
  let writtenSinceFlush = 0;
  let timer: unknown = null;
  let timerAt = Infinity;
  let sending: Promise<void> | null = null;
  let attempt = 0;
  /** A wait caused by the network (0: none) binds only this page: a new page may be on a working network. */
  let networkRetryAt = 0;
  let stopped = false;
  const { destination } = options;
  const shared = options.shared ?? memorySendState();
  const encode = (entries: OutboxEntry[]) => destination.encode(entries.map((entry) => entry.event), options.now());
  const request = (body: string, keepalive: boolean) => {
    const now = options.now();
    const rate = destination.rate;
    if (rate) {
      const state = shared.read();
      shared.write({ ...state, starts: [...state.starts.filter((start) => start > now - rate.windowMs), now] });
    }
    return post(options.fetch, destination, body, keepalive);
  };
  const paced = () => paceWait(shared.read().starts, destination.rate, options.now());
  /** The wait an endpoint asked for. None is ever written further off than the cap: one that is predates a clock set back. */
  const serverWait = () => {
    const wait = shared.read().retryAt - options.now();
    return wait > RETRY_CAP_MS ? 0 : wait;
  };

  const schedule = (ms: number) => {
    const at = options.now() + ms;
    if (timer !== null && timerAt <= at) return;
    if (timer !== null) options.clearTimeout(timer);
    timerAt = at;
    timer = options.setTimeout(() => {
      timer = null;
      timerAt = Infinity;
      void sender.flush().catch(options.onError);
    }, ms);
  };

  /** Entries on their way into the outbox: no longer unwritten, not there yet. */
  const beingWritten = new Set<string>();
  const write = async () => {
    writing = null;
    const entries = unwritten;
    unwritten = [];
    const ids = entries.map((entry) => keyId(entry.key));
    ids.forEach((id) => beingWritten.add(id));
    // Flagged before the write: a page that navigates at once may end before a later write starts, and the flag is
    // what tells the next page to send what this one left. And after it: a drain that peeked the outbox empty just
    // before this write may have cleared the flag meanwhile.
    options.onBacklog?.(true);
    try {
      await outbox.add(entries);
    } finally {
      ids.forEach((id) => beingWritten.delete(id));
    }
    options.onBacklog?.(true);
    writtenSinceFlush += entries.length;
    if (writtenSinceFlush >= options.batchSize) void sender.flush().catch(options.onError);
    else schedule(options.flushMs);
  };

  const settle = async (entries: OutboxEntry[]) => {
    await outbox.remove(entries.map((entry) => entry.key));
    for (const entry of entries) unconfirmed.delete(keyId(entry.key));
  };

  /** A 2xx settles every event it carried: those it refused are final, like a 422's, and are reported in one error. */
  const delivered = async (batch: OutboxEntry[], { rejected }: PostResult) => {
    await settle(batch);
    if (rejected.length > 0) options.onError(rejectedError(rejected, batch.length));
  };

  /** Sends from the outbox until it is empty, a backoff starts, or sending must stop. Runs under the lock. */
  const drain = async () => {
    let size = options.batchSize;
    while (!stopped && options.maySend()) {
      // Inside a backoff, or past the destination's pace, nothing is sent; the timer is re-armed here, whatever
      // woke this drain up.
      const wait = Math.max(serverWait(), networkRetryAt - options.now(), paced());
      if (wait > 0) return schedule(wait);
      const peeked = await outbox.peek(size);
      if (peeked.length === 0) return options.onBacklog?.(false);
      const unreadable = peeked.filter((entry) => !isWireEvent(entry.event));
      if (unreadable.length > 0) {
        await settle(unreadable);
        options.onError(new Error(`${unreadable.length} unreadable event(s) in the outbox were removed`));
        continue;
      }
      if (!options.maySend()) return; // consent may have been withdrawn while the outbox was read
      const batch = peeked.slice(0, batchLength(peeked.map((entry) => entry.key[3]), Math.min(size, destination.maxEvents)));
      batch.forEach((entry) => sendingNow.add(keyId(entry.key)));
      const result = await request(encode(batch), false);
      sendingNow.clear();
      const delivery = destination.classify(result.status);
      const refused = result.rejected.length;
      options.log(`batch of ${batch.length} → ${result.status || "network error"} (${refused ? `delivered ${batch.length - refused}, rejected ${refused}` : delivery})`);
      if (delivery === "split" && batch.length > 1) {
        size = Math.ceil(batch.length / 2);
        continue;
      }
      if (delivery === "retry") {
        attempt++;
        const delay = retryDelay(attempt, parseRetryAfter(result.retryAfter, options.now()), options.random);
        networkRetryAt = result.status === 0 ? options.now() + delay : 0;
        if (result.status !== 0) shared.write({ ...shared.read(), retryAt: options.now() + delay });
        options.log(`retry ${attempt} in ${delay} ms`);
        continue;
      }
      attempt = 0;
      networkRetryAt = 0;
      if (shared.read().retryAt !== 0) shared.write({ ...shared.read(), retryAt: 0 });
      if (delivery === "stop") {
        stopped = true;
        options.onError(new Error(`The endpoint answered HTTP ${result.status}: sending stops until the page reloads; queued events stay in the outbox`));
        return;
      }
      await delivered(batch, result);
      if (delivery !== "delivered") {
        const why = delivery === "split" ? "too large for the endpoint (HTTP 413) even alone" : `refused with HTTP ${result.status}`;
        options.onError(new Error(`${batch.length} event(s) ${why}; they were dropped`));
      }
    }
  };

  /**
   * Forgets this tab's written entries older than the oldest one in the outbox: another tab delivered them, or the
   * bound dropped them. Without this a hidden tab would resend what others delivered, and the map would only grow.
   * What is not in the outbox yet is kept, taken before the look: a write that lands meanwhile is ordered before it.
   */
  const forgetSettled = async () => {
    const pending = new Set([...beingWritten, ...unwritten.map((entry) => keyId(entry.key))]);
    const [oldest] = await outbox.peek(1);
    for (const [id, entry] of unconfirmed) {
      if (!pending.has(id) && (!oldest || compareKeys(entry.key, oldest.key) < 0)) unconfirmed.delete(id);
    }
  };

  const sendNow = async () => {
    if (writing) await writing;
    if (!options.maySend()) return;
    writtenSinceFlush = 0;
    const held = await options.lock(drain);
    await forgetSettled();
    // Another tab is sending; it may finish before seeing events this tab wrote just now, so look again later,
    // for as long as this tab has events that nobody has confirmed.
    if (!held && unconfirmed.size > 0) schedule(options.flushMs);
  };

  /** The exit path's keepalive requests, for this tab's unconfirmed events (notWritten: not in the outbox yet). */
  const sendOnExit = (notWritten: ReadonlySet<string>, unloading: boolean): string[] => {
    const sent: string[] = [];
    // Nothing leaves while sending is not allowed, or inside a wait the endpoint asked for: those events stay
    // queued for the next load.
    if (!options.maySend(true) || serverWait() > 0) return sent;
    const entries = [...unconfirmed.values()].filter((entry) => {
      const id = keyId(entry.key);
      if (leaving.has(id)) return false;
      // Without dedupe at the destination, only what no other tab can see yet, and nothing already on its way.
      if (!destination.dedupes) return notWritten.has(id) && !sendingNow.has(id);
      return unloading || !sendingNow.has(id);
    });
    let budget = MAX_BODY_BYTES;
    // A paced destination gets only the requests its pace allows now; the rest go out on the next load.
    while (entries.length > 0 && !stopped && paced() === 0) {
      const batch = entries.splice(0, batchLength(entries.map((entry) => entry.key[3]), Math.min(options.batchSize, destination.maxEvents)));
      const body = encode(batch);
      const bytes = byteLength(body);
      if (bytes <= budget) {
        budget -= bytes;
        const ids = batch.map((entry) => keyId(entry.key));
        ids.forEach((id) => leaving.add(id));
        sent.push(...batch.map((entry) => entry.event.id));
        void request(body, true).then((result) => {
          ids.forEach((id) => leaving.delete(id));
          if (destination.classify(result.status) === "delivered") return delivered(batch, result);
        });
      } else if (destination.beacon && options.sendBeacon?.(destination.url, new Blob([body], { type: "text/plain;charset=UTF-8" }))) {
        sent.push(...batch.map((entry) => entry.event.id));
      } else {
        break; // the browser's budget for a closing page is spent: the rest goes out on the next load
      }
    }
    return sent;
  };

  const sender: Sender = {
    enqueue(events) {
      for (const { event, bytes } of events) {
        const entry: OutboxEntry = { key: [options.now(), options.tabId, sequence++, bytes], event };
        unwritten.push(entry);
        unconfirmed.set(keyId(entry.key), entry);
      }
      // A macrotask, not a microtask: the tracker's commands of one tick run in successive microtasks.
      writing ??= new Promise<void>((resolve) => options.setTimeout(resolve, 0)).then(write);
      return writing;
    },
    flush() {
      // Flushes run one after another, so batches leave in the order their events were tracked.
      const current: Promise<void> = (sending ?? Promise.resolve()).then(sendNow).finally(() => {
        if (sending === current) sending = null;
      });
      sending = current;
      return current;
    },
    flushOnExit(unloading) {
      const notWritten = new Set(unwritten.map((entry) => keyId(entry.key)));
      // Start committing what is not written yet; the keepalive requests below do not wait for it.
      if (unwritten.length > 0) void write().catch(options.onError);
      if (unloading) return sendOnExit(notWritten, true);
      // Hidden, not unloading: the page still runs a moment, long enough to forget first what another tab delivered
      // since this one last looked, so that a tab switch never sends it again. An unload cannot wait (above): there,
      // the contract allows the duplicate.
      void forgetSettled().then(
        () => sendOnExit(notWritten, false),
        () => sendOnExit(notWritten, false),
      );
      return [];
    },
    online() {
      if (networkRetryAt > 0) {
        networkRetryAt = 0;
        attempt = 0;
      }
      void sender.flush().catch(options.onError);
    },
    forget() {
      unconfirmed.clear();
      unwritten = [];
    },
  };
  return sender;
}

/** One error for one answer, naming each refused event and why; `rejected` carries them for a handler to read. */
function rejectedError(rejected: RejectedEvent[], sent: number): Error & { rejected: RejectedEvent[] } {
  const each = rejected.map(({ id, issues }) => `${id}: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ")}`);
  return Object.assign(new Error(`The endpoint rejected ${rejected.length} of ${sent} event(s): ${each.join(" | ")}`), { rejected });
}
