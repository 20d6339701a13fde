// What every storage engine of the collector promises (SQLite embedded, PostgreSQL shared by many collectors), and
// the rules both apply the same way. Routes, the forwarder and retention talk to this interface only.
import { createHash } from "node:crypto";
import type { Sender } from "../schema.js";
import type { CheckedEvent } from "../wire.js";

export type ForwardStatus = "pending" | "sent" | "failed";

export interface StoredEvent {
  seq: number;
  id: string;
  received_at: string;
  event: string;
  source_id: string;
  referral_code: string | null;
  /** `server` when the site's server sent it with a key; `browser` otherwise. */
  source: Sender;
  body: Record<string, unknown>;
  forwarding: { status: ForwardStatus; attempts: number; last_error: string | null; updated_at: string } | null;
}

export interface EventFilter {
  event?: string | undefined;
  referral?: string | undefined;
  customer?: string | undefined;
  /** ISO time: only events received at or after it. */
  since?: string | undefined;
  /** Paging cursor: only events older than this `seq` (the `next` of the previous page). */
  before?: number | undefined;
  limit: number;
}

export interface EventPage {
  events: StoredEvent[];
  total: number;
  next: number | null;
}

/** A checked event, and whether only the customer's first event of its name counts. */
export interface IncomingEvent {
  event: CheckedEvent;
  oncePerCustomer: boolean;
}

export interface BatchOutcome {
  stored: number;
  duplicates: number;
  duplicateIds: string[];
  /** Ids some other event already holds: refused, never stored. */
  takenIds: string[];
}

export interface StoreStats {
  events: number;
  duplicates: number;
  forwarding: Partial<Record<ForwardStatus, number>>;
}

export interface DueForward {
  seq: number;
  attempts: number;
  body: Record<string, unknown>;
}

/** What a forward came to; `pending` puts it back in the queue for `nextAttemptAt`. */
export interface ForwardOutcome {
  status: ForwardStatus;
  attempts: number;
  nextAttemptAt: number;
  error: string | null;
}

export interface EventStore {
  readonly engine: "sqlite" | "postgres";
  /** Stores a batch's valid events in one transaction, and says what became of each; resolves after the commit. */
  storeBatch(items: IncomingEvent[], receivedAt: string, source: Sender): Promise<BatchOutcome>;
  list(filter: EventFilter): Promise<EventPage>;
  stats(): Promise<StoreStats>;
  /**
   * Leases up to `limit` due forwards to `owner` until `now + leaseMs`, oldest first, unless forwarding is paused.
   * A forward leased to another owner is not due until its lease runs out (that owner may have died).
   */
  claimForwards(owner: string, now: number, limit: number, leaseMs: number): Promise<DueForward[]>;
  /** Records a forward's outcome and ends its lease, only if `owner` still holds it; says whether it did. */
  settleForward(seq: number, owner: string, outcome: ForwardOutcome): Promise<boolean>;
  /** Pauses forwarding for every collector on this store until `until` (epoch ms); never shortens a pause. */
  pauseForwarding(until: number): Promise<void>;
  /** Epoch ms until which forwarding is paused (0: not paused). */
  forwardingPausedUntil(): Promise<number>;
  /**
   * Deletes events received before `cutoff` (ISO time), with their forwarding rows, except those still waiting to be
   * forwarded: retention never drops an event Voucherify has not had. Once-per-customer claims stay.
   */
  deleteOlderThan(cutoff: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * Every character Unicode says a renderer may show as nothing (zero-width spaces and joiners, soft hyphen, invisible
 * operators, variation selectors, tags, Hangul fillers…), and the Braille blank, which shows as a space.
 */
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\u2800]/gu;

/**
 * How a customer is told apart from another for `once_per_customer`: case, surrounding spaces, invisible characters
 * and Unicode compatibility forms do not make a new customer (`Alex@X.com ` is `alex@x.com`).
 */
export const sameCustomer = (id: string) => id.normalize("NFKC").replace(INVISIBLE, "").trim().toLowerCase();

/**
 * The claims an event of one name makes for its customer: by `source_id`, and by Voucherify's own customer `id` when
 * the server gives one (Voucherify then ignores `source_id`). Digests: the claims table holds no email in clear.
 */
export const onceKeys = (event: CheckedEvent): string[] =>
  [["source_id", event.customer.source_id], ...(event.customer.id ? [["id", event.customer.id]] : [])].map(([kind, id]) =>
    createHash("sha256").update(JSON.stringify([event.event, kind, sameCustomer(id ?? "")])).digest("hex"),
  );

/** What became of one event: stored, a repeat, or an id some other event already holds. */
export type Outcome = "stored" | "duplicate" | "id-taken";

/**
 * A resent event (same id, sender, name and customer) is a duplicate. An id held by a different event is refused:
 * otherwise a browser that guessed the id of a server's coming conversion could make it a "duplicate".
 */
export const holderOutcome = (holder: { source: string; event: string; source_id: string }, event: CheckedEvent, source: Sender): Outcome =>
  holder.source === source && holder.event === event.event && holder.source_id === event.customer.source_id ? "duplicate" : "id-taken";
