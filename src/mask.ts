// Debug lines end up in screenshots, support tickets and shared recordings: customers' emails and names are masked.

// Quotes, brackets and URL delimiters end an address: it may sit in a JSON string, an HTML attribute or a URL.
const EMAIL = /([^\s@"'<>/:?&=#])[^\s@"'<>/:?&=#]*@([^\s@"'<>/:?&=#])[^\s@"'<>/:?&=#]*(\.[^\s@"'<>/:?&=#.]+)/g;

/**
 * A copy of a JSON-ish value with every email-shaped string masked (`alex@domain.io` → `a***@d***.io`) and a customer's
 * name too (`Alex Doe` → `A*** D***`). `customer` says the value is a customer object.
 */
export function mask(value: unknown, customer = false): unknown {
  if (typeof value === "string") return value.replace(EMAIL, "$1***@$2***$3");
  if (Array.isArray(value)) return value.map((item) => mask(item));
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, customer && key === "name" && typeof item === "string" ? item.replace(/(\S)\S*/g, "$1***") : mask(item, key === "customer")]),
  );
}
