// Forwards stored events to Voucherify's POST /v1/events, from the durable queue in the collector's database.
// One request at a time, oldest first; the retry policy is the browser's own (transport.ts).
import { classifyStatus, parseRetryAfter, retryDelay } from "../transport.js";
import { voucherifyBody } from "../voucherify.js";
import type { EventStore } from "./store.js";

export interface VoucherifyCredentials {
  apiUrl: string;
  appId: string;
  secretKey: string;
}

export interface ForwarderOptions extends VoucherifyCredentials {
  store: EventStore;
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  random?: () => number;
  /** How often to look for due forwards when there is nothing to do. */
  idleMs?: number;
  /** After this many failed attempts a retryable error becomes final. */
  maxAttempts?: number;
  log?: (message: string) => void;
}

export function startForwarder(options: ForwarderOptions): { stop(): Promise<void>; wake(): void } {
  const fetch = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const idleMs = options.idleMs ?? 1000;
  const maxAttempts = options.maxAttempts ?? 30;
  const log = options.log ?? (() => undefined);
  const endpoint = `${options.apiUrl.replace(/\/+$/, "")}/v1/events`;
  let running = true;
  let wake: () => void = () => undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  /** Sends one event; returns how long the whole queue must pause (a 429 concerns every request), or 0. */
  const forward = async (seq: number, attempts: number, body: Record<string, unknown>): Promise<number> => {
    let status = 0;
    let retryAfter: string | null = null;
    let reason = "network error";
    try {
      const response = await fetch(endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-App-Id": options.appId, "X-App-Token": options.secretKey },
        body: JSON.stringify(voucherifyBody(body as { event: unknown; customer: unknown })),
        signal: AbortSignal.timeout(30_000),
      });
      status = response.status;
      retryAfter = response.headers.get("Retry-After");
      reason = `HTTP ${status}: ${(await response.text()).slice(0, 500)}`;
    } catch (error) {
      reason = `network error: ${(error as Error).message}`;
    }
    const delivery = classifyStatus(status);
    const tried = attempts + 1;
    if (delivery === "delivered") {
      options.store.markForward(seq, "sent", tried, 0, null);
      return 0;
    }
    if (delivery === "retry" && tried < maxAttempts) {
      const delay = retryDelay(tried, parseRetryAfter(retryAfter, now()), random);
      options.store.markForward(seq, "pending", tried, now() + delay, reason);
      log(`forward ${seq}: ${reason}; retry in ${delay} ms`);
      return status === 429 ? delay : 0;
    }
    options.store.markForward(seq, "failed", tried, 0, reason);
    log(`forward ${seq} failed: ${reason}`);
    return 0;
  };

  const loop = (async () => {
    while (running) {
      const due = options.store.dueForwards(now(), 10);
      if (due.length === 0) {
        await sleep(idleMs);
        continue;
      }
      for (const item of due) {
        if (!running) break;
        const pause = await forward(item.seq, item.attempts, item.body);
        if (pause > 0) {
          await sleep(pause);
          break;
        }
      }
    }
  })();

  return {
    wake: () => wake(),
    async stop() {
      running = false;
      wake();
      await loop;
    },
  };
}
