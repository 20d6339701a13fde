// One request to the collection endpoint and what its answer means for the events it carried.
import type { WireEvent } from "./event.js";

/** What to do with a batch after the endpoint answered (status 0: no answer at all). */
export type Delivery = "delivered" | "rejected" | "split" | "retry";

export function classifyStatus(status: number): Delivery {
  if (status >= 200 && status < 300) return "delivered";
  if (status === 413) return "split";
  if (status === 0 || status === 408 || status === 429 || status >= 500) return "retry";
  return "rejected";
}

export function encodeBatch(batch: readonly WireEvent[], sentAt: number): string {
  return JSON.stringify({ sent_at: new Date(sentAt).toISOString(), batch });
}

/**
 * POSTs a batch as `text/plain`: a CORS-safelisted content type, so a cross-origin endpoint needs no preflight.
 * Resolves to the HTTP status, or 0 when the request failed on the network; never rejects.
 */
export async function postBatch(fetch: typeof globalThis.fetch, endpoint: string, body: string, keepalive: boolean): Promise<number> {
  try {
    const response = await fetch(endpoint, {
      method: "POST",
      body,
      keepalive,
      credentials: "omit",
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
    });
    return response.status;
  } catch {
    return 0;
  }
}
