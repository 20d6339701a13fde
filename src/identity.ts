// Who the visitor is: a random anonymous id until `identify`, then the customer the site names.
import { object, optional, pattern, refine, size, string } from "superstruct";
import { jsonObject, validateOrIssues, ValidationError, type JsonObject } from "./schema.js";

export interface Customer {
  source_id: string;
  email?: string;
  name?: string;
  metadata?: JsonObject;
}

/** Deliberately loose: one `@`, something on each side, a dot in the domain; the real check is the inbox. */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const CustomerStruct = object({
  // `anon_` is reserved for the placeholder customer: an endpoint could not tell such a customer from a visitor.
  source_id: refine(size(string(), 1, 200), "not anonymous", (value) => !value.startsWith("anon_") || 'must not start with "anon_", which marks anonymous visitors'),
  email: optional(size(pattern(string(), EMAIL), 3, 254)),
  name: optional(size(string(), 0, 200)),
  metadata: optional(jsonObject),
});

/** The customer as given to `identify`, or a ValidationError listing every problem. */
export function checkCustomer(input: unknown): Customer {
  const checked = validateOrIssues(input, CustomerStruct, { prefix: "customer" });
  if (!checked.ok) throw new ValidationError("Invalid customer", checked.issues);
  return checked.value;
}

/** The customer every event carries before `identify`: Voucherify requires one, and this one cannot collide. */
export function anonymousCustomer(anonymousId: string): Customer {
  return { source_id: `anon_${anonymousId}` };
}

/** A version 4 UUID; `randomUUID` exists only in secure contexts, so plain-http pages use the fallback. */
export function randomId(crypto: Crypto): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
