// One request to the collection endpoint, what its answer means for the events it carried, and when to try again.
import { array, is, nullable, string, type, type Infer } from "superstruct";
import type { WireEvent } from "./event.js";
import { CLIENT_RATE, voucherifyBody } from "./voucherify.js";

/** What to do with a batch after the endpoint answered (status 0: no answer at all). */
export type Delivery = "delivered" | "rejected" | "split" | "retry" | "stop";

/**
 * Only 400 and 422 say the events themselves are wrong. Any other answer (a 404 while an endpoint is redeployed, a
 * 5xx, no answer) says nothing about them, so they are kept and retried rather than lost.
 */
export function classifyStatus(status: number): Delivery {
  if (status >= 200 && status < 300) return "delivered";
  if (status === 400 || status === 422) return "rejected";
  if (status === 413) return "split";
  if (status === 401 || status === 403) return "stop";
  return "retry";
}

/**
 * Voucherify's own API is not redeployed under the visitor's feet: a 404 there means what the event names does not
 * exist (a referral code, say), and retrying would never help. Other 4xx are final too; 401/403 still stop.
 */
export function classifyVoucherifyStatus(status: number): Delivery {
  const delivery = classifyStatus(status);
  return delivery === "retry" && status >= 400 && status < 500 && status !== 408 && status !== 429 ? "rejected" : delivery;
}

/** No request body over 64 KB: the keepalive budget of a page that is going away, and a sane size for any endpoint. */
export const MAX_BODY_BYTES = 64 * 1024;
/** An event may take half a request, so that every batch can carry at least one event with room to spare. */
export const MAX_EVENT_BYTES = 32 * 1024;

export const RETRY_BASE_MS = 1000;
export const RETRY_CAP_MS = 5 * 60_000;
/** Full jitter may draw a wait near zero; this floor keeps even an unlucky run of draws from becoming a busy loop. */
export const RETRY_FLOOR_MS = 100;

/**
 * Exponential backoff with full jitter (a random wait up to 1 s, 2 s, 4 s … capped at 5 minutes), so that many
 * visitors whose endpoint came back do not all return at once. A `Retry-After` the endpoint sent wins.
 */
export function retryDelay(attempt: number, retryAfterMs: number | null, random: () => number): number {
  if (retryAfterMs !== null) return Math.max(retryAfterMs, RETRY_FLOOR_MS);
  const ceiling = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.max(RETRY_FLOOR_MS, Math.floor(random() * ceiling));
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds from `now`; null when absent or unreadable. */
export function parseRetryAfter(header: string | null, now: number): number | null {
  if (header === null || header.trim() === "") return null;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, RETRY_CAP_MS);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.min(Math.max(0, date - now), RETRY_CAP_MS);
}

export const byteLength = (text: string): number => new TextEncoder().encode(text).length;

export function encodeBatch(batch: readonly WireEvent[], sentAt: number): string {
  return JSON.stringify({ sent_at: new Date(sentAt).toISOString(), batch });
}

const ENVELOPE_BYTES = byteLength(encodeBatch([], 0)) + 1;

/**
 * How many of `sizes` (bytes of each event's JSON, oldest first) go into the next request: at most `maxCount`,
 * and a body of at most `maxBytes`; always at least one, since no single event exceeds MAX_EVENT_BYTES.
 */
export function batchLength(sizes: readonly number[], maxCount: number, maxBytes = MAX_BODY_BYTES): number {
  let bytes = ENVELOPE_BYTES;
  let count = 0;
  for (const size of sizes) {
    if (count >= maxCount || (count > 0 && bytes + size + 1 > maxBytes)) break;
    bytes += size + 1;
    count++;
  }
  return count;
}

export const REQUEST_TIMEOUT_MS = 30_000;

const RejectedStruct = type({ id: nullable(string()), issues: array(type({ path: string(), message: string() })) });
/** An event the collector refused inside a batch it otherwise accepted (CONTRACT section 6). */
export type RejectedEvent = Infer<typeof RejectedStruct>;

export interface PostResult {
  status: number;
  retryAfter: string | null;
  /** What a 2xx answer said was refused; empty when the destination gives no such list or its body was unreadable. */
  rejected: RejectedEvent[];
}

/** Where events go, and how a request for them is shaped. */
export interface Destination {
  url: string;
  headers: Record<string, string>;
  /** The most events one request carries. */
  maxEvents: number;
  encode(events: readonly WireEvent[], sentAt: number): string;
  /** Whether `navigator.sendBeacon` may carry a request: it cannot set headers. */
  beacon: boolean;
  /** At most this many requests per window, or no pacing. */
  rate: { requests: number; windowMs: number } | null;
  /** What an answer means for the events it carried. */
  classify: (status: number) => Delivery;
  /** Whether a 2xx answer lists the events it refused (`{ rejected: [...] }`): the collector's does, Voucherify's not. */
  listsRejected: boolean;
  /**
   * Whether the destination drops an `id` it already has. One that does not (Voucherify) must never get an event
   * twice, so a leaving page sends it only events no other tab can see and none already in flight.
   */
  dedupes: boolean;
}

/**
 * A collection endpoint (CONTRACT section 6): batches as `text/plain`, a CORS-safelisted content type, so a
 * cross-origin endpoint needs no preflight.
 */
export function collectorDestination(endpoint: string): Destination {
  return { url: endpoint, headers: { "Content-Type": "text/plain;charset=UTF-8" }, maxEvents: Infinity, encode: encodeBatch, beacon: true, rate: null, classify: classifyStatus, listsRejected: true, dedupes: true };
}

/** Voucherify's client-side API: one event per request, its application id and client token in headers, paced. */
export function voucherifyDestination(api: string, appId: string, clientToken: string): Destination {
  return {
    url: `${api.replace(/\/+$/, "")}/client/v1/events`,
    headers: { "Content-Type": "application/json", "X-Client-Application-Id": appId, "X-Client-Token": clientToken },
    maxEvents: 1,
    encode: (events) => JSON.stringify(voucherifyBody(events[0] ?? { event: "", customer: {} })),
    beacon: false,
    // We stamp when a request starts, Voucherify counts when it arrives: a margin keeps the boundary on our side.
    rate: { requests: CLIENT_RATE.requests, windowMs: CLIENT_RATE.windowMs + 250 },
    classify: classifyVoucherifyStatus,
    listsRejected: false,
    dedupes: false,
  };
}

/** How long until another request may start, given when recent ones started (oldest first). */
export function paceWait(starts: readonly number[], rate: Destination["rate"], now: number): number {
  if (!rate) return 0;
  // A start "in the future" means the clock was set back: it must not block sending for that long.
  const inWindow = starts.filter((start) => start > now - rate.windowMs && start <= now);
  if (inWindow.length < rate.requests) return 0;
  return (inWindow[inWindow.length - rate.requests] ?? now) + rate.windowMs - now;
}

/**
 * POSTs one request; resolves to the HTTP status (0 when it failed on the network), `Retry-After` and the events a
 * 2xx answer refused. Never rejects.
 */
export async function post(fetch: typeof globalThis.fetch, destination: Destination, body: string, keepalive: boolean): Promise<PostResult> {
  try {
    const response = await fetch(destination.url, {
      method: "POST",
      body,
      keepalive,
      credentials: "omit",
      headers: destination.headers,
      // A request that hangs would hold every later batch: give up and retry with backoff instead.
      signal: typeof AbortSignal.timeout === "function" ? AbortSignal.timeout(REQUEST_TIMEOUT_MS) : null,
    });
    const rejected = destination.listsRejected && response.ok ? await rejectedIn(response) : [];
    return { status: response.status, retryAfter: response.headers.get("Retry-After"), rejected };
  } catch {
    return { status: 0, retryAfter: null, rejected: [] };
  }
}

/**
 * The `rejected` list of a 2xx answer. The events were delivered whatever the body holds: one that is empty, not
 * JSON, or cut off (a page unloading) lists nothing. Never rejects, so reading it never turns a delivery into a
 * network error.
 */
async function rejectedIn(response: Response): Promise<RejectedEvent[]> {
  try {
    const { rejected } = JSON.parse(await response.text()) as { rejected?: unknown };
    // Checked, not trusted: the items end up in an error message.
    return Array.isArray(rejected) ? rejected.filter((item): item is RejectedEvent => is(item, RejectedStruct)) : [];
  } catch {
    return [];
  }
}
