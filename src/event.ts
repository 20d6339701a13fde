// The event of CONTRACT section 6, built from what the tracker knows. Pure: the caller supplies time, ids and page.
import type { Customer } from "./identity.js";
import type { Referral } from "./referral.js";
import type { JsonObject } from "./schema.js";
import { scrubUrl } from "./page-url.js";

export interface PageContext {
  url: string;
  path: string;
  referrer: string;
  title: string;
}

/** One batch item: a Voucherify custom-event body plus reftrack's own fields (`id`, `timestamp`, `anonymous_id`, `context`). */
export interface WireEvent {
  id: string;
  event: string;
  timestamp: string;
  customer: Customer;
  metadata: JsonObject;
  referral?: { code: string };
  anonymous_id: string;
  context: { page: PageContext; library: { name: "reftrack"; version: string } };
}

export interface EventParts {
  id: string;
  name: string;
  metadata: JsonObject;
  now: number;
  anonymousId: string;
  customer: Customer;
  /** Only a live referral: the caller has already checked its window. */
  referral: Referral | null;
  page: PageContext;
  version: string;
}

export function buildEvent(parts: EventParts): WireEvent {
  return {
    id: parts.id,
    event: parts.name,
    timestamp: new Date(parts.now).toISOString(),
    customer: parts.customer,
    metadata: parts.metadata,
    ...(parts.referral ? { referral: { code: parts.referral.code } } : {}),
    anonymous_id: parts.anonymousId,
    context: { page: parts.page, library: { name: "reftrack", version: parts.version } },
  };
}

/** The page as events describe it; its URLs keep only what `scrubUrl` keeps. */
export function pageContext(doc: Document, keep: readonly string[], codes: readonly string[]): PageContext {
  const location = doc.location;
  return { url: scrubUrl(location.href, keep, codes), path: location.pathname, referrer: scrubUrl(doc.referrer, keep, codes), title: doc.title };
}
