// Voucherify's custom-event request body, as both paths send it: the browser straight to the client-side API, and
// the collector's forwarder to the server-side one. reftrack's own fields (id, timestamp, anonymous_id, context) go.

export interface VoucherifyEventBody {
  event: unknown;
  customer: unknown;
  metadata: unknown;
  referral?: unknown;
}

export function voucherifyBody(event: { event: unknown; customer: unknown; metadata?: unknown; referral?: unknown }): VoucherifyEventBody {
  return { event: event.event, customer: event.customer, metadata: event.metadata ?? {}, ...(event.referral ? { referral: event.referral } : {}) };
}

export const VOUCHERIFY_API = "https://api.voucherify.io";

/** Voucherify's client-side limit: 5 requests per 5 seconds per address. */
export const CLIENT_RATE = { requests: 5, windowMs: 5000 };
