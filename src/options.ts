// Settings: one table checks `createTracker` options and converts the script tag's attribute strings alike.
import { ValidationError, type SchemaDocument } from "./schema.js";
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

/**
 * One setting: its default (undefined: optional), whether a value is acceptable, and how a given value is converted
 * first (an attribute string into its type; a list copied, so that a site's array changed later changes nothing).
 */
type Setting = [fallback: unknown | undefined, valid: (value: unknown) => boolean, convert?: (value: unknown) => unknown];

const isString = (value: unknown): value is string => typeof value === "string";
const fromString = (convert: (value: string) => unknown) => (value: unknown) => (isString(value) ? convert(value) : value);
/** A string matching `pattern` (lengths and choices are patterns too: a value of another type never is one). */
const matching = (pattern: RegExp) => (value: unknown) => isString(value) && pattern.test(value);
const flag = (fallback: boolean): Setting => [fallback, (value) => typeof value === "boolean", fromString(fromFlag)];
const param = matching(REFERRAL_PARAM);
const params = (fallback: string[], min: number): Setting => [
  fallback,
  // Array.from: a hole in the array is a value that is not a name, as `every` alone would skip it.
  (value) => Array.isArray(value) && value.length >= min && value.length <= 20 && Array.from(value).every(param),
  (value) => (isString(value) ? fromList(value) : Array.isArray(value) ? value.slice() : value),
];
const bounded = (fallback: number, min: number, max: number, whole = false): Setting => [
  fallback,
  // NaN fails the comparisons.
  (value) => typeof value === "number" && (!whole || Number.isInteger(value)) && value >= min && value <= max,
  fromString(fromNumber),
];

/** Why each default: see "Defaults" in the README. The order is the order settings are checked and reported in. */
const SETTINGS: Record<string, Setting> = {
  endpoint: [, matching(/^[^]{1,2048}$/)],
  voucherifyAppId: [, matching(/^[^]{1,200}$/)],
  voucherifyClientToken: [, matching(/^[^]{1,500}$/)],
  voucherifyApi: [VOUCHERIFY_API, matching(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/)],
  schema: [, () => true],
  referralParams: params(["ref", "referral", "referral_code", "via"], 1),
  keepParams: params([], 0),
  attribution: ["last", matching(/^(first|last)$/)],
  attributionDays: bounded(30, 0.001, 3650),
  cleanUrl: flag(false),
  attrPrefix: ["data-track", matching(/^data-[a-z0-9]+(-[a-z0-9]+)*$/)],
  batchSize: bounded(20, 1, 500, true),
  flushMs: bounded(2000, 0, 600_000, true),
  debug: flag(false),
  consent: ["not-required", matching(/^(required|not-required)$/)],
  respectGpc: flag(true),
  referralCookie: flag(true),
  cookieDomain: [, matching(COOKIE_DOMAIN)],
  onError: [, (value) => typeof value === "function"],
};

export interface Settings {
  endpoint?: string;
  voucherifyAppId?: string;
  voucherifyClientToken?: string;
  voucherifyApi: string;
  schema?: unknown;
  referralParams: string[];
  keepParams: string[];
  attribution: Attribution;
  attributionDays: number;
  cleanUrl: boolean;
  attrPrefix: string;
  batchSize: number;
  flushMs: number;
  debug: boolean;
  consent: "required" | "not-required";
  respectGpc: boolean;
  referralCookie: boolean;
  cookieDomain?: string;
  onError?: Function;
}

/**
 * The settings with defaults applied and strings converted, and the names of those that are invalid: every setting
 * in order, then every key that is not a setting.
 */
function check(input: Record<string | symbol, unknown>): { value: Settings; invalid: string[] } {
  const value: Record<string | symbol, unknown> = { ...input };
  const invalid = Object.keys(input).filter((key) => !Object.hasOwn(SETTINGS, key));
  for (const [key, [fallback, valid, convert = (same: unknown) => same]] of Object.entries(SETTINGS).reverse()) {
    const given = input[key] === undefined ? fallback : input[key];
    if (given === undefined) continue;
    const converted = convert(given);
    if (valid(converted)) value[key] = converted;
    else invalid.unshift(key);
  }
  return { value: value as unknown as Settings, invalid };
}

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
  let { value: settings, invalid } = check(input);
  if (invalid.length > 0) {
    const rest: Record<string | symbol, unknown> = { ...input };
    const issues = invalid.map((key) => {
      delete rest[key];
      // A consent setting that cannot be read must not switch tracking on: it falls back to the careful value.
      if (key === "consent") rest.consent = "required";
      return { path: nameOf(key), message: settingMessage(key, input[key]) };
    });
    const fatal = issues.some(({ path }) => DESTINATION_KEYS.map(nameOf).includes(path) || path === "");
    if (fatal) throw new ValidationError("reftrack settings", issues);
    report(new ValidationError("reftrack settings", issues));
    settings = check(rest).value;
  }
  if (!settings.endpoint && !(settings.voucherifyAppId && settings.voucherifyClientToken)) {
    throw new ValidationError("reftrack settings", [
      { path: nameOf("endpoint"), message: `is required: give the URL that receives batches, or both ${nameOf("voucherifyAppId")} and ${nameOf("voucherifyClientToken")} to send straight to Voucherify` },
    ]);
  }
  return settings;
}

/** `must be a whole number from 1 to 500, got "lots"; using 20`: what it takes, what it got, what happens instead. */
function settingMessage(key: string, value: unknown): string {
  const fallback = Object.hasOwn(SETTINGS, key) ? (SETTINGS[key] as Setting)[0] : undefined;
  const used = key === "consent" ? '"required"' : DESTINATION_KEYS.includes(key) ? null : fallback === undefined ? "none" : JSON.stringify(fallback);
  const expected = EXPECTED[key] ?? (key in SETTINGS ? '"true" or "false"' : "nothing: it is not a setting of reftrack");
  return `must be ${expected}, got ${describeValue(value)}${used === null ? "" : `; using ${used}`}`;
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
  for (const option of Object.keys(SETTINGS)) {
    const value = option === "onError" ? null : read(attributeOf(option));
    if (value !== null) options[option] = value;
  }
  return options;
}
