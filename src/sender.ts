// The first, in-memory sender: batches by size and interval and posts them. The IndexedDB outbox replaces it;
// until then, events that wait here live only as long as the page (the page-hide flush narrows that gap).
import { classifyStatus, encodeBatch, postBatch } from "./transport.js";
import type { WireEvent } from "./event.js";

export interface Sender {
  /** Resolves once the events are handed over for sending. */
  enqueue(events: WireEvent[]): Promise<void>;
  /** Sends everything that waits; resolves when each batch has had its answer. */
  flush(options?: { keepalive?: boolean }): Promise<void>;
  /** How many events wait. */
  pending(): number;
}

export interface SenderOptions {
  endpoint: string;
  batchSize: number;
  flushMs: number;
  fetch: typeof globalThis.fetch;
  now: () => number;
  setTimeout: (callback: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
  onError: (error: Error) => void;
  log: (message: string, detail?: unknown) => void;
}

export function createSender(options: SenderOptions): Sender {
  const queue: WireEvent[] = [];
  let timer: unknown = null;
  let sending: Promise<void> | null = null;

  const schedule = () => {
    if (timer === null) timer = options.setTimeout(() => void sender.flush(), options.flushMs);
  };

  /** Sends one batch; says whether to go on with the next, resend this one in halves, or stop until later. */
  const send = async (batch: WireEvent[], keepalive: boolean): Promise<"next" | "halve" | "stop"> => {
    const status = await postBatch(options.fetch, options.endpoint, encodeBatch(batch, options.now()), keepalive);
    const delivery = classifyStatus(status);
    options.log(`batch of ${batch.length} → ${status || "network error"} (${delivery})`);
    if (delivery === "delivered") return "next";
    if (delivery === "split" && batch.length > 1) {
      queue.unshift(...batch);
      return "halve";
    }
    if (delivery === "retry") {
      queue.unshift(...batch);
      schedule();
      return "stop";
    }
    options.onError(new Error(`The endpoint refused ${batch.length} event(s) with HTTP ${status}; they were dropped`));
    return "next";
  };

  const drain = async (keepalive: boolean) => {
    let size = options.batchSize;
    while (queue.length > 0) {
      const batch = queue.splice(0, size);
      const next = await send(batch, keepalive);
      if (next === "stop") return;
      size = next === "halve" ? Math.max(1, Math.floor(batch.length / 2)) : options.batchSize;
    }
  };

  const sender: Sender = {
    async enqueue(events) {
      queue.push(...events);
      if (queue.length >= options.batchSize) void sender.flush();
      else schedule();
    },
    flush(flushOptions = {}) {
      if (timer !== null) {
        options.clearTimeout(timer);
        timer = null;
      }
      const keepalive = flushOptions.keepalive === true;
      // Flushes run one after another, so batches leave in the order their events were tracked.
      const current: Promise<void> = (sending ?? Promise.resolve()).then(() => drain(keepalive)).finally(() => {
        if (sending === current) sending = null;
      });
      sending = current;
      return current;
    },
    pending: () => queue.length,
  };
  return sender;
}
