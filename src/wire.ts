// The wire format of CONTRACT section 6 as an endpoint checks it. Node-side only: the browser builds these
// objects itself (event.ts) and never imports this module, so it costs the bundle nothing.
import { array, define, nullable, object, optional, pattern, refine, size, string, type as loose, type Infer, type Struct } from "superstruct";
import { REFERRAL_CODE } from "./referral.js";
import { MAX_EVENT_BYTES } from "./transport.js";
import { jsonObject, validateOrIssues, type EventChecker, type Issue, type JsonObject, type Sender } from "./schema.js";

/** `2026-02-30T…` and `…T24:00:00Z` parse in JavaScript (they roll over); a real instant reads back the same. */
const isRealInstant = (text: string) => {
  const time = Date.parse(text);
  return !Number.isNaN(time) && new Date(time).toISOString().slice(0, 19) === text.slice(0, 19);
};
const Timestamp = refine(pattern(string(), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/), "instant", (value) => isRealInstant(value) || `Expected a real UTC instant, but received: "${value.slice(0, 40)}"`);
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

/** Each item only needs to be an object here: its fields are checked, metadata's depth from metadata, per event. */
const Item = define<Record<string, unknown>>("object", (value) => (typeof value === "object" && value !== null && !Array.isArray(value)) || "Expected an event object");
export const BatchStruct = loose({ sent_at: Timestamp, batch: size(array(Item), 1, 500) });

/** An outbox keeps events through long offline spells; anything older, or from the future, is a broken clock or a forgery. */
export const MAX_EVENT_AGE_MS = 400 * 86_400_000;
export const MAX_EVENT_LEAD_MS = 86_400_000;
/** Keys that mean something to JavaScript objects: refused anywhere in an event, whatever reads it later. */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
/**
 * How deep anything in an event may nest: metadata's own bound (schema.ts) under the envelope, with room to spare.
 * Checked before anything else walks the event: a body nested thousands of levels deep would overflow the stack of
 * every recursive walk (this one, JSON.stringify), and a 500 would fail the whole batch, for browsers to send again.
 */
const MAX_EVENT_NESTING = 32;
/** Issues listed per event: enough to fix it, never an answer that grows with a hostile body. */
export const MAX_ISSUES = 20;

export interface CheckedItem {
  id: string | null;
  issues: Issue[];
  /** The event to store (customer keys a sender may not set removed), when there are no issues. */
  event?: CheckedEvent;
  /** What was changed on the way in, for the answer. */
  warnings: Issue[];
}

/**
 * Checks one batch item: its size, keys and envelope, then its event against the schema, exactly as the browser did.
 * `now` and `sentAt` judge its timestamp: the visitor's clock may be off, so the time is judged as sent, shifted
 * by how far `sent_at` is from the server's clock.
 */
export function checkWireEvent(item: unknown, checker: EventChecker, sender: Sender = "browser", now = Date.now(), sentAt = now): CheckedItem {
  const rawId = (item as { id?: unknown } | null)?.id;
  const id = typeof rawId === "string" ? rawId.slice(0, 64) : null;
  const keys = forbiddenKeys(item, "", 0);
  // Sized only once its nesting is known to be bounded: JSON.stringify recurses too.
  const early = keys.length > 0 ? keys : oversized(item);
  if (early.length > 0) return { id, issues: early, warnings: [] };
  const checked = validateOrIssues(item, WIRE_EVENT[sender]);
  if (!checked.ok) return { id, issues: checked.issues, warnings: [] };
  const late = timeIssue(checked.value.timestamp, now, sentAt);
  if (late) return { id, issues: [late], warnings: [] };
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
    // Own keys only: `toString` or `constructor` are "in" any object.
    if (Object.hasOwn(allowed, key)) kept[key] = value;
    else warnings.push({ path: `customer.${key}`, message: dropMessage(sender) });
  }
  return { customer: kept as CustomerOnWire, warnings };
}

const dropMessage = (sender: Sender) =>
  sender === "browser"
    ? "was dropped: a browser names only source_id, email, name and metadata of its customer; send other customer fields from the site's server"
    : "was dropped: it is not a customer field of Voucherify's custom-event body";

/** Keys refused anywhere, and nesting past MAX_EVENT_NESTING, which ends the walk. */
function forbiddenKeys(value: unknown, path: string, depth: number): Issue[] {
  if (typeof value !== "object" || value === null) return [];
  if (depth > MAX_EVENT_NESTING) return [{ path, message: `nests deeper than ${MAX_EVENT_NESTING} levels: an event is flatter than that (metadata nests at most 5)` }];
  const issues: Issue[] = [];
  for (const [key, item] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (FORBIDDEN_KEYS.has(key)) issues.push({ path: at, message: `"${key}" is not allowed as a key anywhere in an event` });
    else issues.push(...forbiddenKeys(item, at, depth + 1));
    if (issues.length > MAX_ISSUES) break;
  }
  return issues;
}

function oversized(item: unknown): Issue[] {
  const bytes = Buffer.byteLength(JSON.stringify(item) ?? "");
  return bytes > MAX_EVENT_BYTES ? [{ path: "", message: `The event is ${bytes} bytes as JSON, over the limit of ${MAX_EVENT_BYTES} bytes for one event` }] : [];
}

function timeIssue(timestamp: string, now: number, sentAt: number): Issue | null {
  const time = Date.parse(timestamp);
  // sent_at is the sender's too: a skew beyond these bounds is no clock, and the time itself must be plausible.
  if (time > now + 2 * MAX_EVENT_LEAD_MS || time < now - 2 * MAX_EVENT_AGE_MS) return { path: "timestamp", message: "is not a plausible time for an event: check the sender's clock" };
  const asServerTime = time + (now - sentAt);
  if (asServerTime > now + MAX_EVENT_LEAD_MS) return { path: "timestamp", message: "is more than a day after sent_at: the sender's clock cannot be trusted" };
  if (asServerTime < now - MAX_EVENT_AGE_MS) return { path: "timestamp", message: "is more than 400 days before sent_at: too old to attribute" };
  return null;
}

/** At most MAX_ISSUES issues, the last saying how many more there were. */
export function capIssues(issues: Issue[], max = MAX_ISSUES): Issue[] {
  if (issues.length <= max) return issues;
  return [...issues.slice(0, Math.max(1, max - 1)), { path: "", message: `and ${issues.length - Math.max(1, max - 1)} more issues` }];
}

/** The body's batch, or the issues that make the whole body unusable. */
export function parseBatch(body: unknown): { batch: unknown[]; sentAt: number } | { issues: Issue[] } {
  const parsed = validateOrIssues(body, BatchStruct);
  return parsed.ok ? { batch: parsed.value.batch, sentAt: Date.parse(parsed.value.sent_at) } : { issues: parsed.issues };
}
