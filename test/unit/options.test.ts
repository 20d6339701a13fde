// @vitest-environment node
// src/options.ts checks settings with a plain table. Until it did, one superstruct struct checked them; that struct is
// kept here as the reference: whatever the input, both give the same settings, the same reports and the same errors.
import fc from "fast-check";
import { array, boolean, coerce, create, defaulted, enums, func, integer, number, object, optional, pattern, size, string, unknown } from "superstruct";
import { describe, expect, it } from "vitest";
import { COOKIE_DOMAIN } from "../../src/cookie.js";
import { FROM_ATTRIBUTES, optionsFromAttributes, resolveSettings } from "../../src/options.js";
import { REFERRAL_PARAM } from "../../src/referral.js";
import { validateOrIssues, ValidationError } from "../../src/schema.js";
import { VOUCHERIFY_API } from "../../src/voucherify.js";

// --- The reference: src/options.ts as it was with superstruct ---------------------------------------------------

const fromList = (value: string) => value.split(",").map((item) => item.trim()).filter((item) => item !== "");
const fromNumber = (value: string) => (value.trim() === "" ? value : Number(value));
const fromFlag = (value: string) => ({ "": true, true: true, false: false })[value.trim().toLowerCase()] ?? value;
const flag = (fallback: boolean) => defaulted(coerce(boolean(), string(), fromFlag), fallback);
const params = (fallback: string[], min: number) => defaulted(coerce(size(array(pattern(string(), REFERRAL_PARAM)), min, 20), string(), fromList), fallback);
const bounded = (fallback: number, min: number, max: number, whole = false) =>
  defaulted(coerce(size(whole ? integer() : number(), min, max), string(), fromNumber), fallback);

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
const DESTINATION_KEYS = ["endpoint", "voucherifyAppId", "voucherifyClientToken", "voucherifyApi"];
const attributeOf = (option: string) => `data-${option.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
const describeValue = (value: unknown) => (typeof value === "string" ? JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value) : typeof value === "function" ? "a function" : JSON.stringify(value) ?? String(value));

function defaultOf(struct: unknown): string {
  try {
    const value = create(undefined, struct as Parameters<typeof create>[1]);
    return value === undefined ? "none" : JSON.stringify(value);
  } catch {
    return "none";
  }
}

function settingMessage(key: string, value: unknown): string {
  const fallback = (SettingsStruct.schema as Record<string, { create?: unknown }>)[key];
  const used = key === "consent" ? '"required"' : DESTINATION_KEYS.includes(key) ? null : defaultOf(fallback);
  const expected = EXPECTED[key] ?? (key in SettingsStruct.schema ? '"true" or "false"' : "nothing: it is not a setting of reftrack");
  return `must be ${expected}, got ${describeValue(value)}${used === null ? "" : `; using ${used}`}`;
}

function referenceSettings(input: Record<string | symbol, unknown>, report: (error: Error) => void): unknown {
  const nameOf = (option: string) => (input[FROM_ATTRIBUTES] ? attributeOf(option) : option);
  const checked = validateOrIssues(input, SettingsStruct, { coerce: true });
  let settings = checked.ok ? checked.value : undefined;
  if (!checked.ok) {
    const rest: Record<string, unknown> = { ...input };
    const issues = [...new Set(checked.issues.map((issue) => issue.path.split(".")[0] ?? ""))].map((key) => {
      delete rest[key];
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

// --- Both, side by side -----------------------------------------------------------------------------------------

type Outcome = { settings?: unknown; thrown?: { name: string; message: string; issues: unknown }; reported: { message: string; issues: unknown }[] };

function outcome(resolve: (input: Record<string | symbol, unknown>, report: (error: Error) => void) => unknown, input: Record<string | symbol, unknown>): Outcome {
  const reported: Outcome["reported"] = [];
  const report = (error: Error) => void reported.push({ message: error.message, issues: (error as ValidationError).issues });
  try {
    return { settings: resolve({ ...input }, report), reported };
  } catch (error) {
    const { name, message, issues } = error as ValidationError;
    return { thrown: { name, message, issues }, reported };
  }
}

const KEYS = Object.keys(SettingsStruct.schema);
const onError = () => undefined;
const strings = fc.oneof(
  fc.string(),
  fc.constantFrom("", " ", "true", "FALSE", " false ", "yes", "0", "1", "20", " 5 ", "0x10", "1e3", "-1", "0.0005", "500", "501", "600000", "600001", "3650", "3651", "NaN", "Infinity", "2.5"),
  fc.constantFrom("first", "last", "required", "not-required", "data-track", "data-x-y", "data-", ".example.com", "example.com", "a..b"),
  fc.constantFrom("ref", "ref, via", " , ", "a b<", "a,,b", "x".repeat(65), Array.from({ length: 21 }, (_, i) => `p${i}`).join(",")),
  fc.constantFrom("/v1/batch", "https://api.voucherify.io", "https://eu1.api.voucherify.io/", "ftp://x", "x".repeat(200), "x".repeat(201), "x".repeat(500), "x".repeat(501), "x".repeat(2048), "x".repeat(2049)),
);
const values = fc.oneof(
  strings,
  fc.double(),
  fc.integer({ min: -5, max: 700_000 }),
  fc.boolean(),
  fc.constantFrom(null, undefined, onError, Number.NaN, Number.POSITIVE_INFINITY, -0, 0, 1, 0.0009, 0.001, 20, 21, 500, 501, 3650, 3650.5, 600_000, 600_001),
  fc.array(strings, { maxLength: 22 }),
  fc.constantFrom([], [1], [undefined], ["ref", 2], new Array(2), { a: 1 }, new Date(0)),
);
const inputs = fc.record(
  {
    settings: fc.dictionary(fc.constantFrom(...KEYS), values, { maxKeys: 8 }),
    unknown: fc.dictionary(fc.constantFrom("endpoint_url", "batch", "", "debugMode", "constructor", "toString"), values, { maxKeys: 2 }),
    endpoint: fc.constantFrom(undefined, "/v1/batch"),
    fromAttributes: fc.boolean(),
  },
  { requiredKeys: ["settings", "unknown", "endpoint", "fromAttributes"] },
);

describe("settings: the plain table gives what the superstruct struct gave", () => {
  it("for any options: the same settings, reports and errors", () => {
    fc.assert(
      fc.property(inputs, ({ settings, unknown: extra, endpoint, fromAttributes }) => {
        const input: Record<string | symbol, unknown> = { ...(endpoint === undefined ? {} : { endpoint }), ...settings, ...extra };
        if (fromAttributes) input[FROM_ATTRIBUTES] = true;
        expect(outcome(resolveSettings, input)).toStrictEqual(outcome(referenceSettings, input));
      }),
      { numRuns: 3000 },
    );
  });

  it("for any script tag: the same settings, reports and errors", () => {
    const attributes = fc.dictionary(fc.constantFrom(...KEYS.map(attributeOf)), strings, { maxKeys: 8 });
    fc.assert(
      fc.property(attributes, fc.constantFrom(null, "/v1/batch"), (given, endpoint) => {
        const read = (name: string) => (name === "data-endpoint" && endpoint !== null ? endpoint : (given[name] ?? null));
        const input = optionsFromAttributes(read);
        expect(outcome(resolveSettings, input)).toStrictEqual(outcome(referenceSettings, input));
      }),
      { numRuns: 2000 },
    );
  });

  it("the defaults, and a list given as an array is copied", () => {
    const list = ["ref"];
    const settings = resolveSettings({ endpoint: "/v1/batch", referralParams: list }, () => undefined);
    expect(settings).toEqual(referenceSettings({ endpoint: "/v1/batch", referralParams: list }, () => undefined));
    expect(settings.referralParams).not.toBe(list);
    expect(resolveSettings({ endpoint: "/v1/batch" }, () => undefined).referralParams).toEqual(["ref", "referral", "referral_code", "via"]);
  });
});
