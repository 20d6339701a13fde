// The wire format of CONTRACT section 6 as an endpoint checks it. Node-side only: the browser builds these
// objects itself (event.ts) and never imports this module, so it costs the bundle nothing.
import { array, object, optional, pattern, size, string, type as loose } from "superstruct";
import { REFERRAL_CODE } from "./referral.js";
import { jsonObject, validateOrIssues, type EventChecker, type Issue } from "./schema.js";

const Timestamp = pattern(string(), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);

const WireEventStruct = loose({
  id: pattern(string(), /^[A-Za-z0-9_-]{8,64}$/),
  event: string(),
  timestamp: Timestamp,
  customer: loose({ source_id: size(string(), 1, 200) }),
  metadata: jsonObject,
  referral: optional(object({ code: pattern(string(), REFERRAL_CODE) })),
  anonymous_id: size(string(), 1, 64),
});

export const BatchStruct = loose({ sent_at: Timestamp, batch: size(array(jsonObject), 1, 500) });

export interface CheckedItem {
  id: string | null;
  issues: Issue[];
}

/** Checks one batch item: its envelope, then its event against the schema, exactly as the browser did. */
export function checkWireEvent(item: unknown, checker: EventChecker): CheckedItem {
  const envelope = validateOrIssues(item, WireEventStruct);
  const id = typeof (item as { id?: unknown })?.id === "string" ? (item as { id: string }).id : null;
  if (!envelope.ok) return { id, issues: envelope.issues };
  const event = envelope.value;
  const identified = !event.customer.source_id.startsWith("anon_");
  const checked = checker.check({ event: event.event, metadata: event.metadata, identified });
  return { id, issues: checked.ok ? [] : checked.issues };
}

/** The body's batch, or the issues that make the whole body unusable. */
export function parseBatch(body: unknown): { batch: unknown[] } | { issues: Issue[] } {
  const parsed = validateOrIssues(body, BatchStruct);
  return parsed.ok ? { batch: parsed.value.batch } : { issues: parsed.issues };
}
