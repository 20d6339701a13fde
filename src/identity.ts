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

export { randomId } from "./ids.js";
