// The event schema of CONTRACT section 4, turned into superstruct structs.
// Runs in the browser and under Node (the collection endpoint imports it), so nothing here touches the DOM.
import {
  array,
  boolean,
  coerce,
  define,
  enums,
  number,
  object,
  optional,
  record,
  refine,
  size,
  string,
  type,
  validate,
  type Failure,
  type Struct,
  type StructError,
} from "superstruct";

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const PROPERTY_TYPES = ["string", "number", "boolean", "date", "datetime", "object", "array"] as const;
export type PropertyType = (typeof PROPERTY_TYPES)[number];

export interface PropertyDefinition {
  readonly type: PropertyType;
  readonly required?: boolean;
  readonly enum?: readonly (string | number)[];
  readonly description?: string;
}

export interface EventDefinition {
  readonly customer?: "required" | "optional";
  /** `server`: only the site's server may send it (CONTRACT section 8); conversions that pay a reward belong here. */
  readonly source?: "browser" | "server";
  /** The collector keeps only the first event of this name for each `customer.source_id`. */
  readonly once_per_customer?: boolean;
  readonly properties?: { readonly [property: string]: PropertyDefinition };
  readonly additional_properties?: boolean;
  readonly description?: string;
}

export interface SchemaDocument {
  readonly events: { readonly [event: string]: EventDefinition };
}

/** One problem with an event: where (`metadata.network`) and what. */
export interface Issue {
  path: string;
  message: string;
}

/** Thrown (or rejected) when an event, a customer or a schema fails its checks; `issues` lists every problem. */
export class ValidationError extends Error {
  readonly issues: Issue[];
  constructor(subject: string, issues: Issue[]) {
    super(`${subject}: ${issues.map((issue) => `${issue.path || "(root)"}: ${issue.message}`).join("; ")}`);
    this.name = "ValidationError";
    this.issues = issues;
  }
}

// Voucherify refuses event names outside 1..300 characters; we refuse them first.
export const MAX_EVENT_NAME = 300;
// Bounds on untrusted metadata: deep or huge values are almost always a bug, and they cost every visitor bytes.
export const MAX_DEPTH = 5;
export const MAX_STRING = 10_000;

/** Why `value` is not JSON within our bounds, or null when it is. Cycles are caught by the depth bound. */
export function jsonProblem(value: unknown, depth = 0): string | null {
  if (value === null || typeof value === "boolean") return null;
  if (typeof value === "string") return value.length > MAX_STRING ? `is longer than ${MAX_STRING} characters` : null;
  if (typeof value === "number") return Number.isFinite(value) ? null : "is not a finite number";
  if (typeof value !== "object") return `is a ${typeof value}, which JSON cannot carry`;
  if (depth >= MAX_DEPTH) return `nests deeper than ${MAX_DEPTH} levels`;
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = jsonProblem(item, depth + 1);
      if (problem) return problem;
    }
    return null;
  }
  if (!isPlainObject(value)) return "is not a plain object";
  for (const item of Object.values(value)) {
    const problem = jsonProblem(item, depth + 1);
    if (problem) return problem;
  }
  return null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const json = (depth: number): Struct<Json, null> =>
  define<Json>("json", (value) => {
    const problem = jsonProblem(value, depth);
    return problem === null || `Expected JSON, but the value ${problem}`;
  });

/** A JSON object starting at `depth` levels of nesting (metadata itself is level 0, a property of it level 1). */
const jsonObjectAt = (depth: number): Struct<JsonObject, null> =>
  define<JsonObject>("object", (value) => {
    if (!isPlainObject(value)) return `Expected an object, but received: ${describe(value)}`;
    const problem = jsonProblem(value, depth);
    return problem === null || `Expected JSON, but the value ${problem}`;
  });

export const jsonObject = jsonObjectAt(0);

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
// A zone is required: a datetime without one means a different instant in every visitor's browser.
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

const isCalendarDate = (value: string): boolean =>
  ISO_DATE.test(value) && !Number.isNaN(Date.parse(value)) && new Date(value).toISOString().slice(0, 10) === value;

const date = refine(string(), "date", (value) => isCalendarDate(value) || `Expected a date as YYYY-MM-DD, but received: "${value}"`);
const datetime = refine(
  string(),
  "datetime",
  (value) =>
    (ISO_DATETIME.test(value) && !Number.isNaN(Date.parse(value)) && isCalendarDate(value.slice(0, 10))) ||
    `Expected an ISO 8601 datetime with a time zone, but received: "${value}"`,
);
// What a form or attribute may hold for a datetime: ISO 8601, with or without a zone. Without one (an
// `<input type="datetime-local">`) it is the visitor's local time, which is what the visitor typed.
const ISO_DATETIME_INPUT = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$/;
const finiteNumber = refine(number(), "finite", (value) => Number.isFinite(value) || "Expected a finite number");

/**
 * Struct is invariant in its value type; the property table holds structs of several types, checked as unknown (a
 * cast of the whole table: no function call is left in the bundle for it).
 */
const BASE = {
  string: size(string(), 0, MAX_STRING),
  number: finiteNumber,
  boolean: boolean(),
  date,
  datetime,
  object: jsonObjectAt(1),
  array: array(json(1)),
} as unknown as Record<PropertyType, Struct<unknown, unknown>>;

/**
 * How an attribute or form string becomes the declared type. Anything that does not convert is left as it is,
 * so the check that follows names the original string in its message.
 */
const FROM_STRING: Record<PropertyType, (value: string) => unknown> = {
  string: (value) => value,
  number: (value) => (value.trim() !== "" && Number.isFinite(Number(value)) ? Number(value) : value),
  boolean: (value) => ({ true: true, false: false })[value.trim().toLowerCase()] ?? value,
  date: (value) => value.trim(),
  datetime: (value) => {
    const trimmed = value.trim();
    const time = ISO_DATETIME_INPUT.test(trimmed) ? Date.parse(trimmed.replace(" ", "T")) : Number.NaN;
    return Number.isNaN(time) ? value : new Date(time).toISOString();
  },
  object: parseJsonString,
  array: parseJsonString,
};

function parseJsonString(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function propertyStruct(definition: PropertyDefinition): Struct<unknown, unknown> {
  const allowed = definition.enum;
  const checked = allowed
    ? refine(
        BASE[definition.type],
        "enum",
        (value) =>
          allowed.includes(value as string | number) ||
          `Expected one of ${allowed.map((item) => JSON.stringify(item)).join(", ")}, but received: ${describe(value)}`,
      )
    : BASE[definition.type];
  const converted = coerce(checked, string(), FROM_STRING[definition.type]);
  return definition.required ? converted : optional(converted);
}

// --- The schema document itself ------------------------------------------------------------------------------

// Control characters in a name would forge lines in logs and dashboards downstream.
const EventNameStruct = refine(size(string(), 1, MAX_EVENT_NAME), "printable", (value) => !/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(value));
const PropertyDefinitionStruct = object({
  type: enums(PROPERTY_TYPES),
  required: optional(boolean()),
  enum: optional(size(array(define<string | number>("string or number", (value) => typeof value === "string" || typeof value === "number")), 1, Infinity)),
  description: optional(string()),
});
const EventDefinitionStruct = object({
  customer: optional(enums(["required", "optional"] as const)),
  source: optional(enums(["browser", "server"] as const)),
  once_per_customer: optional(boolean()),
  properties: optional(record(string(), PropertyDefinitionStruct)),
  additional_properties: optional(boolean()),
  description: optional(string()),
});
// `type` rather than `object` at the top: a schema file may carry `$schema`, a version or notes beside `events`.
const SchemaDocumentStruct = type({ events: record(EventNameStruct, EventDefinitionStruct) });

// --- Checking events -----------------------------------------------------------------------------------------

/** What the browser knows about an event before it is built, and what the endpoint reads back off the wire. */
export interface EventInput {
  event: unknown;
  metadata: unknown;
  /** Whether `identify` has run: `customer: "required"` events wait for it. */
  identified: boolean;
}

export type CheckResult = { ok: true; metadata: JsonObject } | { ok: false; issues: Issue[] };

/** Who sends an event: a visitor's browser (the default, trusted with nothing) or the site's server, with a key. */
export type Sender = "browser" | "server";

export interface CheckOptions {
  /** Turn attribute and form strings into the declared types first. */
  convert?: boolean;
  /** Events of `"source": "server"` are refused from anything but the server. Default `browser`. */
  sender?: Sender;
}

/** A compiled schema: checks an event, and with `convert` turns attribute strings into the declared types. */
export interface EventChecker {
  check(input: EventInput, options?: CheckOptions): CheckResult;
  /** Whether the collector keeps only the first event of this name for each customer. */
  oncePerCustomer(event: string): boolean;
  readonly events: readonly string[] | null;
}

interface CompiledEvent {
  metadata: Struct<unknown, unknown>;
  /** Each property's declared type, for messages: a missing datetime is "required (datetime)", not "(string)". */
  types: Record<string, PropertyType>;
  customerRequired: boolean;
  serverOnly: boolean;
  oncePerCustomer: boolean;
}

/** Turns a schema document (CONTRACT section 4) into a checker; a malformed document throws a ValidationError. */
export function compileSchema(document: unknown): EventChecker {
  const checked = validateOrIssues(document, SchemaDocumentStruct);
  if (!checked.ok) throw new ValidationError("Invalid event schema", checked.issues);
  const parsed = checked.value;
  const enumIssues = misfitEnumValues(parsed);
  if (enumIssues.length > 0) throw new ValidationError("Invalid event schema", enumIssues);
  const compiled = new Map<string, CompiledEvent>();
  for (const [name, definition] of Object.entries(parsed.events)) {
    compiled.set(name, compileEvent(definition));
  }
  return {
    events: [...compiled.keys()],
    oncePerCustomer: (name) => compiled.get(name)?.oncePerCustomer === true,
    check(input, options = {}) {
      const nameIssues = checkEventName(input.event);
      if (nameIssues.length > 0) return { ok: false, issues: nameIssues };
      const name = input.event as string;
      const event = compiled.get(name);
      if (!event) {
        return { ok: false, issues: [{ path: "event", message: `"${name}" is not an event of the schema (known: ${[...compiled.keys()].join(", ")})` }] };
      }
      if (event.serverOnly && options.sender !== "server") return { ok: false, issues: [serverOnlyIssue(name)] };
      const issues: Issue[] = event.customerRequired && !input.identified
        ? [{ path: "customer", message: `"${name}" requires a customer: call identify() first` }]
        : [];
      const metadata = validateOrIssues(input.metadata ?? {}, event.metadata, { coerce: options.convert === true, prefix: "metadata", event: name, types: event.types });
      if (!metadata.ok) issues.push(...metadata.issues);
      return issues.length > 0 || !metadata.ok ? { ok: false, issues } : { ok: true, metadata: metadata.value as JsonObject };
    },
  };
}

/** The checker used when the site declares no schema: any event name, metadata must still be JSON. */
export const schemaless: EventChecker = {
  events: null,
  oncePerCustomer: () => false,
  check(input) {
    const issues = checkEventName(input.event);
    const metadata = validateOrIssues(input.metadata ?? {}, jsonObject, { prefix: "metadata" });
    if (!metadata.ok) issues.push(...metadata.issues);
    return issues.length > 0 || !metadata.ok ? { ok: false, issues } : { ok: true, metadata: metadata.value };
  },
};

function compileEvent(definition: EventDefinition): CompiledEvent {
  const shape: Record<string, Struct<unknown, unknown>> = {};
  for (const [property, propertyDefinition] of Object.entries(definition.properties ?? {})) {
    shape[property] = propertyStruct(propertyDefinition);
  }
  const metadata = (definition.additional_properties
    ? refine(type(shape), "json", (value) => {
        for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
          const problem = key in shape ? null : jsonProblem(item, 1);
          if (problem) return { path: [key], message: `Expected JSON, but the value ${problem}` };
        }
        return true;
      })
    : object(shape)) as unknown as Struct<unknown, unknown>;
  const types = Object.fromEntries(Object.entries(definition.properties ?? {}).map(([property, { type }]) => [property, type]));
  return { metadata, types, customerRequired: definition.customer === "required", serverOnly: definition.source === "server", oncePerCustomer: definition.once_per_customer === true };
}

/** A browser cannot be trusted to claim a conversion: it says so, and where the event belongs instead. */
function serverOnlyIssue(name: string): Issue {
  return {
    path: "event",
    message: `"${name}" is a server event ("source": "server" in the schema): send it from the site's server with reftrack/server and a server key, not from the browser`,
  };
}

/** Enum values that their own property's type refuses: such a property could never accept anything. */
function misfitEnumValues(document: SchemaDocument): Issue[] {
  const issues: Issue[] = [];
  for (const [event, definition] of Object.entries(document.events)) {
    for (const [property, { type, enum: allowed }] of Object.entries(definition.properties ?? {})) {
      allowed?.forEach((value, index) => {
        const fits = validateOrIssues(value, BASE[type]);
        if (!fits.ok) issues.push({ path: `events.${event}.properties.${property}.enum.${index}`, message: `is not a valid ${type}: ${fits.issues[0]?.message ?? ""}` });
      });
    }
  }
  return issues;
}

function checkEventName(event: unknown): Issue[] {
  return !validateOrIssues(event, EventNameStruct).ok
    ? [{ path: "event", message: `Expected an event name of 1 to ${MAX_EVENT_NAME} characters, none of them a control character, but received: ${describe(event)}` }]
    : [];
}

export type Checked<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };

/**
 * superstruct's `validate`, with every failure as an issue. A value superstruct cannot even describe in a message (an
 * object whose `toString` is not a function: the fuzz tests found it) makes it throw; that is an issue here too,
 * so untrusted input only ever yields issues.
 */
export function validateOrIssues<T, S>(
  value: unknown,
  struct: Struct<T, S>,
  options: { coerce?: boolean; prefix?: string; event?: string; types?: Record<string, PropertyType> } = {},
): Checked<T> {
  try {
    const [error, result] = validate(value, struct, { coerce: options.coerce === true });
    return error ? { ok: false, issues: issuesOf(error, options.prefix, options.event, options.types) } : { ok: true, value: result };
  } catch {
    return { ok: false, issues: [{ path: options.prefix ?? "", message: "cannot be read: it holds a value that cannot be described (an object whose toString is not a function?)" }] };
  }
}

/** Every failure of a superstruct check as an issue, with messages a site owner can act on. */
export function issuesOf(error: StructError, prefix = "", event?: string, types: Record<string, PropertyType> = {}): Issue[] {
  return error.failures().map((failure) => ({
    path: [prefix, ...failure.path].filter((part) => part !== "").join("."),
    message: messageOf(failure, event, types),
  }));
}

function messageOf(failure: Failure, event: string | undefined, types: Record<string, PropertyType>): string {
  if (failure.type === "never") {
    return event
      ? `is not a property of "${event}" (the schema names every allowed property unless the event sets "additional_properties": true)`
      : "is not an allowed property";
  }
  if (failure.value === undefined && failure.path.length > 0) return `is required (${(failure.path.length === 1 ? types[String(failure.path[0])] : undefined) ?? failure.type})`;
  return failure.message;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : String(value);
}

// --- Types: a schema given as a literal narrows `track` --------------------------------------------------------

type PropertiesOf<E> = E extends { readonly properties: infer P } ? P : {};
type RequiredKeys<P> = { [K in keyof P]: P[K] extends { readonly required: true } ? K : never }[keyof P];
type ValueOf<P> = P extends { readonly enum: readonly (infer E)[] }
  ? E
  : P extends { readonly type: infer T }
    ? T extends "number"
      ? number
      : T extends "boolean"
        ? boolean
        : T extends "object"
          ? JsonObject
          : T extends "array"
            ? Json[]
            : string
    : never;
type Flatten<T> = { [K in keyof T]: T[K] };

/** The metadata an event of the schema accepts, with required properties required. */
export type MetadataOf<E> = Flatten<
  { [K in RequiredKeys<PropertiesOf<E>>]: ValueOf<PropertiesOf<E>[K]> } & {
    [K in Exclude<keyof PropertiesOf<E>, RequiredKeys<PropertiesOf<E>>>]?: ValueOf<PropertiesOf<E>[K]>;
  }
> &
  (E extends { readonly additional_properties: true } ? JsonObject : {});

type BrowserEvents<Events> = { [K in keyof Events]: Events[K] extends { readonly source: "server" } ? never : K }[keyof Events];

/**
 * Event names a browser may track under a typed schema (server events are left out: only reftrack/server sends them);
 * any string when the schema is not known at compile time.
 */
export type EventNameOf<S> = S extends { readonly events: infer Events } ? (string extends keyof Events ? string : BrowserEvents<Events> & string) : string;

/** The arguments of `track` after the name: metadata is optional only when no property is required. */
export type MetadataArgs<S, N extends string> = S extends { readonly events: infer Events }
  ? string extends keyof Events
    ? [metadata?: JsonObject]
    : N extends keyof Events
      ? {} extends MetadataOf<Events[N]>
        ? [metadata?: MetadataOf<Events[N]>]
        : [metadata: MetadataOf<Events[N]>]
      : never
  : [metadata?: JsonObject];

/** `T` with every key that `Shape` does not name turned into `never`: a typo such as `requird` fails to compile. */
type Exactly<T, Shape> = T & { [K in Exclude<keyof T, keyof Shape>]: never };
type StrictProperties<P> = { [K in keyof P]: Exactly<P[K], PropertyDefinition> };
type StrictEvent<E> = Exactly<E, EventDefinition> & (E extends { readonly properties: infer P } ? { readonly properties: StrictProperties<P> } : {});
/** A schema literal whose events and properties carry only the keys of CONTRACT section 4. */
export type StrictSchema<S> = S extends { readonly events: infer Events } ? { readonly events: { [N in keyof Events]: StrictEvent<Events[N]> } } : S;

/**
 * Keeps a schema literal's exact types, so that `createTracker({ schema })` narrows `track`; a key the schema format
 * does not know (`requird`, `propertes`) is a compile error, as compileSchema refuses it at run time.
 */
export function defineSchema<const S extends SchemaDocument>(schema: S & StrictSchema<S>): S {
  return schema;
}
