// Forwards stored events to Voucherify's POST /v1/events, from the durable queue in the collector's database.
// One request at a time, oldest first, with the browser's retry policy (transport.ts) applied to the whole queue.
// Several collectors may share one queue (PostgreSQL): each forward is leased to one collector for `leaseMs`, the HTTP
// call gives up well before the lease ends, and a pause after a 429 or an outage is written where all of them see it.
import { randomUUID } from "node:crypto";
import { classifyVoucherifyStatus, parseRetryAfter, retryDelay } from "../transport.js";
import { voucherifyBody } from "../voucherify.js";
import type { EventStore, ForwardOutcome } from "./event-store.js";

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
  /** How long a claimed forward is this collector's alone (30 s); another collector takes it over after that. */
  leaseMs?: number;
  /** How long one request to Voucherify may take (10 s): well inside the lease, so no two collectors send at once. */
  timeoutMs?: number;
  /** This forwarder's name on its leases (a random UUID). */
  owner?: string;
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
  const leaseMs = options.leaseMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (timeoutMs >= leaseMs) throw new Error("the forwarder's timeout must be shorter than its lease, or two collectors could send one event at once");
  const owner = options.owner ?? randomUUID();
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
   * Outcomes the database could not take (a full disk, a lock held too long, a restarting server). Kept here and
   * written again before anything else is sent: an event Voucherify accepted must not go out twice because its "sent"
   * was not recorded. Our lease on it may run out meanwhile; then another collector may send it again (see README).
   */
  // Long enough for an operator to free a disk, short enough to resume soon after.
  const storePauseMs = options.storePauseMs ?? 30_000;
  const unrecorded = new Map<number, ForwardOutcome>();
  const databaseFailed = (error: unknown) => {
    pausedUntil = now() + storePauseMs;
    log("error", `forwarding paused ${storePauseMs / 1000} s: the database could not be read or written (${(error as { code?: string }).code ?? (error as Error).name})`);
  };
  const record = async (seq: number, outcome: ForwardOutcome) => {
    try {
      const held = await options.store.settleForward(seq, owner, outcome);
      unrecorded.delete(seq);
      if (!held) log("info", `forward ${seq}: its lease had run out and another collector took it over`);
    } catch (error) {
      unrecorded.set(seq, outcome);
      databaseFailed(error);
    }
  };
  /** A pause for the whole queue: every collector on this store reads it before it claims a forward. */
  const pauseAll = async (until: number) => {
    pausedUntil = Math.max(pausedUntil, until);
    try {
      await options.store.pauseForwarding(until);
    } catch (error) {
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
        signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(timeoutMs)]),
        // Following a redirect would send the secret key to wherever it points.
        redirect: "manual",
      });
      status = response.status;
      retryAfter = response.headers.get("Retry-After");
      // Voucherify's error bodies can quote the customer: kept with the event (its owners read it), never logged.
      reason = `HTTP ${status}: ${(await response.text()).slice(0, 500)}`;
      if (status >= 300 && status < 400) {
        await pauseAll(now() + credentialsPauseMs);
        await record(seq, { status: "pending", attempts, nextAttemptAt: 0, error: `HTTP ${status} redirect refused` });
        log("error", `Voucherify answered with a redirect (HTTP ${status}); it was not followed, since the secret key would go with it. Check VOUCHERIFY_API_URL`);
        return;
      }
    } catch (error) {
      // Stopped while reading the answer of a 2xx: Voucherify has the event, and it must not go out again.
      if (!running && classifyVoucherifyStatus(status) === "delivered") return void (await record(seq, { status: "sent", attempts: attempts + 1, nextAttemptAt: 0, error: null }));
      if (!running) {
        // Stopped mid-request: the event goes back to the queue at once rather than when the lease runs out.
        await record(seq, { status: "pending", attempts, nextAttemptAt: 0, error: "the collector stopped while sending it" });
        return;
      }
      reason = `network error: ${(error as Error).message}`;
    }
    const delivery = classifyVoucherifyStatus(status);
    if (delivery === "delivered") {
      failures = 0;
      await record(seq, { status: "sent", attempts: attempts + 1, nextAttemptAt: 0, error: null });
    } else if (delivery === "stop") {
      // Wrong or rotated credentials: nothing is wrong with the events. They wait, uncounted, for the fix.
      await pauseAll(now() + credentialsPauseMs);
      await record(seq, { status: "pending", attempts, nextAttemptAt: 0, error: reason });
      log("error", `Voucherify refused the credentials (HTTP ${status}); check VOUCHERIFY_APP_ID and VOUCHERIFY_SECRET_KEY`);
    } else if (delivery === "retry") {
      failures++;
      const delay = retryDelay(failures, parseRetryAfter(retryAfter, now()), random);
      // A 429 is Voucherify's limit for the whole project: every collector waits, not only this one.
      await pauseAll(now() + delay);
      await record(seq, { status: "pending", attempts: attempts + 1, nextAttemptAt: 0, error: reason });
      log("info", `forward ${seq}: ${status === 0 ? "network error" : `HTTP ${status}`}; the queue waits ${delay} ms`);
    } else {
      failures = 0;
      await record(seq, { status: "failed", attempts: attempts + 1, nextAttemptAt: 0, error: reason });
      log("error", `forward ${seq} failed: HTTP ${status} (the reason is kept with the event)`);
    }
  };

  /**
   * One round: what could not be recorded first, then one due event. One at a time: the lease covers exactly one
   * request, which the timeout keeps well inside it.
   */
  const round = async () => {
    for (const [seq, outcome] of [...unrecorded]) await record(seq, outcome);
    if (unrecorded.size > 0) return;
    const due = await options.store.claimForwards(owner, now(), 1, leaseMs);
    const item = due[0];
    if (!item) {
      // Nothing due, or another collector paused the queue: sleep until its pause ends or the idle tick.
      const shared = await options.store.forwardingPausedUntil();
      return sleep(Math.max(idleMs, Math.min(shared - now(), 60_000)), shared <= now());
    }
    await forward(item.seq, item.attempts, item.body);
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
