// Forwards stored events to Voucherify's POST /v1/events, from the durable queue in the collector's database.
// One request at a time, oldest first, with the browser's retry policy (transport.ts) applied to the whole queue.
import { classifyVoucherifyStatus, parseRetryAfter, retryDelay } from "../transport.js";
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
  /** How long the queue waits after Voucherify refuses the credentials (401/403). */
  credentialsPauseMs?: number;
  /** How long the queue waits when the database cannot be read or written (30 s). */
  storePauseMs?: number;
  log?: (level: "info" | "error", message: string) => void;
}

/**
 * The secret key goes only to an https address: plain http would hand it to anyone on the path. Loopback is the one
 * exception, for tests and a local stand-in.
 */
export function checkApiUrl(apiUrl: string): URL {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new Error(`VOUCHERIFY_API_URL must be an https:// address such as https://api.voucherify.io, not "${apiUrl}"`);
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new Error(`VOUCHERIFY_API_URL must use https:// (plain http:// only for a loopback test server), not ${url.protocol}//${url.host}`);
  }
  if (url.username || url.password) throw new Error("VOUCHERIFY_API_URL must not carry a user name or password: the key goes in headers");
  return url;
}

export function startForwarder(options: ForwarderOptions): { stop(): Promise<void>; wake(): void } {
  checkApiUrl(options.apiUrl);
  const fetch = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const idleMs = options.idleMs ?? 1000;
  const credentialsPauseMs = options.credentialsPauseMs ?? 60_000;
  const log = options.log ?? (() => undefined);
  const endpoint = `${options.apiUrl.replace(/\/+$/, "")}/v1/events`;
  const stopping = new AbortController();
  let running = true;
  /** Every request waits until then: a 429, an outage or refused credentials concern the whole queue. */
  let pausedUntil = 0;
  /** Consecutive failures of the queue, for the backoff. */
  let failures = 0;
  let wakeIdle: () => void = () => undefined;

  /** Sleeps; new events may cut an idle wait short (`wake`), never a pause; stopping ends both. */
  const sleep = (ms: number, wakeable: boolean) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stopping.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      stopping.signal.addEventListener("abort", done);
      if (wakeable) wakeIdle = done;
    });

  /**
   * Outcomes the database could not take (a full disk, a lock held too long). Kept here and written again before
   * anything else is sent: an event Voucherify accepted must not go out twice because its "sent" was not recorded.
   */
  // Long enough for an operator to free a disk, short enough to resume soon after.
  const storePauseMs = options.storePauseMs ?? 30_000;
  const unrecorded = new Map<number, Parameters<EventStore["markForward"]>>();
  const databaseFailed = (error: unknown) => {
    pausedUntil = now() + storePauseMs;
    log("error", `forwarding paused ${storePauseMs / 1000} s: the database could not be read or written (${(error as { code?: string }).code ?? (error as Error).name})`);
  };
  const record = (...args: Parameters<EventStore["markForward"]>) => {
    try {
      options.store.markForward(...args);
      unrecorded.delete(args[0]);
    } catch (error) {
      unrecorded.set(args[0], args);
      databaseFailed(error);
    }
  };

  const forward = async (seq: number, attempts: number, body: Record<string, unknown>): Promise<void> => {
    let status = 0;
    let retryAfter: string | null = null;
    let reason = "network error";
    try {
      const response = await fetch(endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-App-Id": options.appId, "X-App-Token": options.secretKey },
        body: JSON.stringify(voucherifyBody(body as { event: unknown; customer: unknown })),
        signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(30_000)]),
        // Following a redirect would send the secret key to wherever it points.
        redirect: "manual",
      });
      status = response.status;
      retryAfter = response.headers.get("Retry-After");
      // Voucherify's error bodies can quote the customer: kept with the event (its owners read it), never logged.
      reason = `HTTP ${status}: ${(await response.text()).slice(0, 500)}`;
      if (status >= 300 && status < 400) {
        pausedUntil = now() + credentialsPauseMs;
        record(seq, "pending", attempts, 0, `HTTP ${status} redirect refused`);
        log("error", `Voucherify answered with a redirect (HTTP ${status}); it was not followed, since the secret key would go with it. Check VOUCHERIFY_API_URL`);
        return;
      }
    } catch (error) {
      if (!running) return; // stopped mid-request: the event stays pending, untouched
      reason = `network error: ${(error as Error).message}`;
    }
    const delivery = classifyVoucherifyStatus(status);
    if (delivery === "delivered") {
      failures = 0;
      record(seq, "sent", attempts + 1, 0, null);
    } else if (delivery === "stop") {
      // Wrong or rotated credentials: nothing is wrong with the events. They wait, uncounted, for the fix.
      pausedUntil = now() + credentialsPauseMs;
      record(seq, "pending", attempts, 0, reason);
      log("error", `Voucherify refused the credentials (HTTP ${status}); check VOUCHERIFY_APP_ID and VOUCHERIFY_SECRET_KEY`);
    } else if (delivery === "retry") {
      failures++;
      const delay = retryDelay(failures, parseRetryAfter(retryAfter, now()), random);
      pausedUntil = now() + delay;
      record(seq, "pending", attempts + 1, 0, reason);
      log("info", `forward ${seq}: ${status === 0 ? "network error" : `HTTP ${status}`}; the queue waits ${delay} ms`);
    } else {
      failures = 0;
      record(seq, "failed", attempts + 1, 0, reason);
      log("error", `forward ${seq} failed: HTTP ${status} (the reason is kept with the event)`);
    }
  };

  /** One round: what could not be recorded first, then the due events not already settled in memory. */
  const round = async () => {
    for (const args of [...unrecorded.values()]) record(...args);
    if (unrecorded.size > 0) return;
    const due = options.store.dueForwards(now(), 10).filter((item) => !unrecorded.has(item.seq));
    if (due.length === 0) return sleep(idleMs, true);
    for (const item of due) {
      if (!running || pausedUntil > now()) break;
      await forward(item.seq, item.attempts, item.body);
    }
  };

  const loop = (async () => {
    while (running) {
      const pause = pausedUntil - now();
      if (pause > 0) {
        await sleep(pause, false);
        continue;
      }
      // Nothing may end the loop but stop(): a failing database pauses forwarding, and the collector stays up.
      try {
        await round();
      } catch (error) {
        databaseFailed(error);
      }
    }
  })();

  return {
    wake: () => wakeIdle(),
    async stop() {
      running = false;
      stopping.abort();
      await loop;
    },
  };
}
