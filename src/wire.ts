// The wire format of CONTRACT section 6 as an endpoint checks it. Node-side only: the browser builds these
// objects itself (event.ts) and never imports this module, so it costs the bundle nothing.
import { array, nullable, object, optional, pattern, size, string, type as loose, type Infer, type Struct } from "superstruct";
import { REFERRAL_CODE } from "./referral.js";
import { jsonObject, validateOrIssues, type EventChecker, type Issue, type JsonObject, type Sender } from "./schema.js";

const Timestamp = pattern(string(), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
const Day = pattern(string(), /^\d{4}-\d{2}-\d{2}$/);
const text = (max: number) => optional(size(string(), 0, max));

/** What a browser may say about its customer: what `identify` takes. */
const BrowserCustomer = {
  source_id: size(string(), 1, 200),
  email: text(254),
  name: text(200),
  metadata: optional(jsonObject),
};

/** What the site's server may say: every customer field of Voucherify's custom-event body. */
const ServerCustomer = {
  ...BrowserCustomer,
  id: text(200),
  description: text(10_000),
  phone: text(100),
  birthday: optional(Day),
  birthdate: optional(Day),
  address: optional(
    nullable(object({ city: text(200), state: text(200), line_1: text(500), line_2: text(500), country: text(200), postal_code: text(50) })),
  ),
};

const ServerCustomerStruct = loose(ServerCustomer);
export type CustomerOnWire = Infer<typeof ServerCustomerStruct>;

const CUSTOMER_FIELDS: Record<Sender, Record<string, unknown>> = { browser: BrowserCustomer, server: ServerCustomer };

const envelope = <C,>(customer: Struct<C, unknown>) => ({
  id: pattern(string(), /^[A-Za-z0-9_-]{8,64}$/),
  event: string(),
  timestamp: Timestamp,
  metadata: jsonObject,
  referral: optional(object({ code: pattern(string(), REFERRAL_CODE) })),
  // The site's server has no anonymous visitor to name.
  anonymous_id: optional(size(string(), 1, 64)),
  customer,
});
// `loose` (superstruct's `type`): unknown keys are kept here, and the customer's are dropped below, saying so.
const WIRE_EVENT = {
  browser: loose(envelope(loose(BrowserCustomer))),
  server: loose(envelope(ServerCustomerStruct)),
};



/** One stored event, as the store takes it: the checked body, and whose it is. */
export interface CheckedEvent {
  id: string;
  event: string;
  customer: CustomerOnWire;
  metadata: JsonObject;
  referral?: { code: string };
  [key: string]: unknown;
}

export const BatchStruct = loose({ sent_at: Timestamp, batch: size(array(jsonObject), 1, 500) });

export interface CheckedItem {
  id: string | null;
  issues: Issue[];
  /** The event to store (customer keys a sender may not set removed), when there are no issues. */
  event?: CheckedEvent;
  /** What was changed on the way in, for the answer. */
  warnings: Issue[];
}

/** Checks one batch item: its envelope, then its event against the schema, exactly as the browser did. */
export function checkWireEvent(item: unknown, checker: EventChecker, sender: Sender = "browser"): CheckedItem {
  const checked = validateOrIssues(item, WIRE_EVENT[sender]);
  const id = typeof (item as { id?: unknown })?.id === "string" ? (item as { id: string }).id : null;
  if (!checked.ok) return { id, issues: checked.issues, warnings: [] };
  const event = checked.value;
  const identified = !event.customer.source_id.startsWith("anon_");
  const result = checker.check({ event: event.event, metadata: event.metadata, identified }, { sender });
  if (!result.ok) return { id, issues: result.issues, warnings: [] };
  const { customer, warnings } = allowedCustomer(event.customer, sender);
  return { id, issues: [], warnings, event: { ...event, customer } };
}

/**
 * Voucherify trusts what the customer object says (an `id` even replaces `source_id`), so a browser names only what
 * `identify` takes; anything else is dropped before storage and the answer says so.
 */
function allowedCustomer(customer: Record<string, unknown>, sender: Sender): { customer: CustomerOnWire; warnings: Issue[] } {
  const allowed = CUSTOMER_FIELDS[sender];
  const kept: Record<string, unknown> = {};
  const warnings: Issue[] = [];
  for (const [key, value] of Object.entries(customer)) {
    if (key in allowed) kept[key] = value;
    else warnings.push({ path: `customer.${key}`, message: dropMessage(sender) });
  }
  return { customer: kept as CustomerOnWire, warnings };
}

const dropMessage = (sender: Sender) =>
  sender === "browser"
    ? "was dropped: a browser names only source_id, email, name and metadata of its customer; send other customer fields from the site's server"
    : "was dropped: it is not a customer field of Voucherify's custom-event body";

/** The body's batch, or the issues that make the whole body unusable. */
export function parseBatch(body: unknown): { batch: unknown[] } | { issues: Issue[] } {
  const parsed = validateOrIssues(body, BatchStruct);
  return parsed.ok ? { batch: parsed.value.batch } : { issues: parsed.issues };
}
