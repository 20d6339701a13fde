// Settings: one struct checks `createTracker` options and converts the script tag's attribute strings alike.
import { array, boolean, coerce, create, defaulted, enums, func, integer, number, object, optional, pattern, size, string, unknown, type Infer } from "superstruct";
import { validateOrIssues, ValidationError, type SchemaDocument } from "./schema.js";
import { REFERRAL_PARAM, type Attribution } from "./referral.js";
import { VOUCHERIFY_API } from "./voucherify.js";
import { COOKIE_DOMAIN } from "./cookie.js";

export interface TrackerOptions<S extends SchemaDocument | undefined = undefined> {
  /** URL that receives batches (CONTRACT section 6). Required unless events go straight to Voucherify. */
  endpoint?: string;
  /** Voucherify's client-side API instead of an endpoint: the application id and client token of its dashboard. */
  voucherifyAppId?: string;
  voucherifyClientToken?: string;
  /** Voucherify's API base for the project's region (`https://api.voucherify.io`). */
  voucherifyApi?: string;
  /** The event schema as an object (typed with `defineSchema`), or the URL of its JSON. */
  schema?: S | string | null;
  referralParams?: readonly string[];
  /** Query parameters page URLs keep besides the referral ones and `utm_*`: every other one is removed before sending. */
  keepParams?: readonly string[];
  attribution?: Attribution;
  attributionDays?: number;
  cleanUrl?: boolean;
  attrPrefix?: string;
  batchSize?: number;
  flushMs?: number;
  debug?: boolean;
  /** `required`: nothing is stored or sent until `consent(true)`. */
  consent?: "required" | "not-required";
  /** Honour Global Privacy Control and Do Not Track as a refusal (default true). */
  respectGpc?: boolean;
  /** Keep the referral in the first-party cookie `reftrack_ref`, for the site's server (default true). */
  referralCookie?: boolean;
  /** A parent domain (`.example.com`) for that cookie, for attribution across subdomains. */
  cookieDomain?: string;
  onError?: (error: Error) => void;
}

const fromList = (value: string) => value.split(",").map((item) => item.trim()).filter((item) => item !== "");
const fromNumber = (value: string) => (value.trim() === "" ? value : Number(value));
// A bare attribute (`data-clean-url`) means true, as HTML boolean attributes do.
const fromFlag = (value: string) => ({ "": true, true: true, false: false })[value.trim().toLowerCase()] ?? value;

const flag = (fallback: boolean) => defaulted(coerce(boolean(), string(), fromFlag), fallback);
const params = (fallback: string[], min: number) => defaulted(coerce(size(array(pattern(string(), REFERRAL_PARAM)), min, 20), string(), fromList), fallback);
const bounded = (fallback: number, min: number, max: number, whole = false) =>
  defaulted(coerce(size(whole ? integer() : number(), min, max), string(), fromNumber), fallback);

/** Why each default: see "Defaults" in the README. */
const SettingsStruct = object({
  endpoint: optional(size(string(), 1, 2048)),
  voucherifyAppId: optional(size(string(), 1, 200)),
  voucherifyClientToken: optional(size(string(), 1, 500)),
  voucherifyApi: defaulted(pattern(string(), /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/), VOUCHERIFY_API),
  schema: optional(unknown()),
  referralParams: params(["ref", "referral", "referral_code", "via"], 1),
  keepParams: params([], 0),
  attribution: defaulted(enums(["first", "last"] as const), "last"),
  attributionDays: bounded(30, 0.001, 3650),
  cleanUrl: flag(false),
  attrPrefix: defaulted(pattern(string(), /^data-[a-z0-9]+(-[a-z0-9]+)*$/), "data-track"),
  batchSize: bounded(20, 1, 500, true),
  flushMs: bounded(2000, 0, 600_000, true),
  debug: flag(false),
  consent: defaulted(enums(["required", "not-required"] as const), "not-required"),
  respectGpc: flag(true),
  referralCookie: flag(true),
  cookieDomain: optional(pattern(string(), COOKIE_DOMAIN)),
  onError: optional(func()),
});

export type Settings = Infer<typeof SettingsStruct>;

/** What each setting takes, in words a site owner can act on. */
const EXPECTED: Record<string, string> = {
  endpoint: "the URL that receives batches",
  voucherifyAppId: "Voucherify's client application id",
  voucherifyClientToken: "Voucherify's client secret key",
  voucherifyApi: "an https:// address such as https://api.voucherify.io",
  referralParams: "a comma list of query parameter names (letters, digits, . _ -)",
  keepParams: "a comma list of query parameter names (letters, digits, . _ -)",
  attribution: '"first" or "last"',
  attributionDays: "a number of days from 0.001 to 3650",
  attrPrefix: 'an attribute name such as "data-track"',
  batchSize: "a whole number from 1 to 500",
  flushMs: "a whole number of milliseconds from 0 to 600000",
  consent: '"required" or "not-required"',
  cookieDomain: 'a parent domain such as ".example.com"',
  onError: "a function",
};

/** The loader marks options it read from the script tag: messages then name the attributes a site owner wrote. */
export const FROM_ATTRIBUTES = Symbol.for("reftrack.fromAttributes");

const attributeOf = (option: string) => `data-${option.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;

/**
 * Applies defaults and converts strings. A bad optional setting falls back to its default and is reported, so one
 * typo in a script tag does not stop tracking; a missing or bad endpoint throws, since nothing could be delivered.
 */
export function resolveSettings(input: Record<string | symbol, unknown>, report: (error: Error) => void): Settings {
  const nameOf = (option: string) => (input[FROM_ATTRIBUTES] ? attributeOf(option) : option);
  const checked = validateOrIssues(input, SettingsStruct, { coerce: true });
  let settings = checked.ok ? checked.value : undefined;
  if (!checked.ok) {
    const rest: Record<string, unknown> = { ...input };
    const issues = [...new Set(checked.issues.map((issue) => issue.path.split(".")[0] ?? ""))].map((key) => {
      delete rest[key];
      // A consent setting that cannot be read must not switch tracking on: it falls back to the careful value.
      if (key === "consent") rest.consent = "required";
      return { path: nameOf(key), message: settingMessage(key, input[key]) };
    });
    const fatal = issues.some(({ path }) => DESTINATION_KEYS.map(nameOf).includes(path) || path === "");
    if (fatal) throw new ValidationError("reftrack settings", issues);
    report(new ValidationError("reftrack settings", issues));
    settings = create(rest, SettingsStruct);
  }
  if (!settings?.endpoint && !(settings?.voucherifyAppId && settings.voucherifyClientToken)) {
    throw new ValidationError("reftrack settings", [
      { path: nameOf("endpoint"), message: `is required: give the URL that receives batches, or both ${nameOf("voucherifyAppId")} and ${nameOf("voucherifyClientToken")} to send straight to Voucherify` },
    ]);
  }
  return settings;
}

/** `must be a whole number from 1 to 500, got "lots"; using 20`: what it takes, what it got, what happens instead. */
function settingMessage(key: string, value: unknown): string {
  const fallback = (SettingsStruct.schema as Record<string, { create?: unknown }>)[key];
  const used = key === "consent" ? '"required"' : DESTINATION_KEYS.includes(key) ? null : defaultOf(fallback);
  const expected = EXPECTED[key] ?? (key in SettingsStruct.schema ? '"true" or "false"' : "nothing: it is not a setting of reftrack");
  return `must be ${expected}, got ${describeValue(value)}${used === null ? "" : `; using ${used}`}`;
}

function defaultOf(struct: unknown): string {
  try {
    const value = create(undefined, struct as Parameters<typeof create>[1]);
    return value === undefined ? "none" : JSON.stringify(value);
  } catch {
    return "none";
  }
}

const describeValue = (value: unknown) => (typeof value === "string" ? JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value) : typeof value === "function" ? "a function" : JSON.stringify(value) ?? String(value));

// Without a valid destination nothing could be delivered: these fail loudly instead of falling back.
const DESTINATION_KEYS = ["endpoint", "voucherifyAppId", "voucherifyClientToken", "voucherifyApi"];

/**
 * The script tag's attributes (CONTRACT section 2) as options: each setting's attribute is its name in kebab case
 * (`attributionDays` → `data-attribution-days`). Only attributes that are present are given.
 */
export function optionsFromAttributes(read: (attribute: string) => string | null): Record<string, unknown> {
  const options: Record<string | symbol, unknown> = { [FROM_ATTRIBUTES]: true };
  for (const option of Object.keys(SettingsStruct.schema)) {
    const value = option === "onError" ? null : read(attributeOf(option));
    if (value !== null) options[option] = value;
  }
  return options;
}
