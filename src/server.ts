// reftrack/server (CONTRACT section 8): what the site's own server needs to claim a conversion. It reads the referral
// the snippet left in the `reftrack_ref` cookie, and sends the conversion to the collector with a server key.
// Node 20+: it uses only fetch, AbortSignal and node:crypto, never a browser global, and none of the collector's
// dependencies, so a site's server can install reftrack without pulling in fastify or a database driver.
import { randomUUID } from "node:crypto";
import { refine, size, string, type as loose } from "superstruct";
import { readReferralCookie } from "./cookie.js";
import { REFERRAL_CODE } from "./referral.js";
import { compileSchema, schemaless, validateOrIssues, ValidationError, type EventChecker, type Issue, type JsonObject } from "./schema.js";
import { parseRetryAfter, retryDelay } from "./transport.js";
import type { CustomerOnWire } from "./wire.js";

export { compileSchema, defineSchema, ValidationError } from "./schema.js";
export type { Issue, Json, JsonObject, SchemaDocument } from "./schema.js";

/**
 * The customer of a server event: `source_id` (the site's own id for the customer) and any other customer field of
 * Voucherify's custom-event body, which the collector accepts from the site's server (it knows them; a browser may
 * name only source_id, email, name and metadata).
 */
export type ServerCustomer = CustomerOnWire;

// --- The referral cookie -------------------------------------------------------------------------------------

/** The referral the visitor's browser claims to have arrived with. */
export interface ServerReferral {
  code: string;
  captured_at: string;
  expires_at: string;
}

export interface ReadReferralOptions {
  /** The server's clock, in milliseconds since the epoch. Default `Date.now()`. */
  now?: number;
  /** The longest attribution window to believe, in days. Default 3650, the largest the snippet accepts. */
  maxDays?: number;
}

/** The largest `data-attribution-days` the snippet accepts (options.ts): no cookie it writes has a longer window. */
export const MAX_ATTRIBUTION_DAYS = 3650;
/** `captured_at` comes from the visitor's clock, which may run a few minutes ahead of the server's. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * The live referral in a `Cookie` header (`req.headers.cookie`), or null when the cookie is missing, malformed, or
 * outside its window. The cookie is the visitor's to edit: what comes back is a well-formed claim, never proof that
 * the code exists or belongs to anyone. Never throws on any header; only an invalid option is a RangeError.
 */
export function readReferral(cookieHeader: string | undefined | null, options: ReadReferralOptions = {}): ServerReferral | null {
  const now = options.now ?? Date.now();
  const maxDays = options.maxDays ?? MAX_ATTRIBUTION_DAYS;
  if (!Number.isFinite(now)) throw new RangeError("readReferral: `now` must be a finite number of milliseconds since the epoch");
  if (!(Number.isFinite(maxDays) && maxDays > 0)) throw new RangeError("readReferral: `maxDays` must be a positive number of days");
  // A JavaScript caller may hand over whatever its framework keeps under `cookie`; anything but text holds no referral.
  if (typeof cookieHeader !== "string") return null;
  const referral = readReferralCookie(cookieHeader, now, maxDays, CLOCK_SKEW_MS);
  return referral ? { code: referral.code, captured_at: referral.captured_at, expires_at: referral.expires_at } : null;
}

// --- Errors --------------------------------------------------------------------------------------------------

/** The collector answered 401: it does not know the server key. The key itself is never part of the message. */
export class KeyRefusedError extends Error {
  readonly id: string;
  constructor(id: string) {
    super(
      "The collector refused the server key (401). Check that the key given to createServerClient is one of the " +
        "comma-separated keys in the collector's REFTRACK_SERVER_KEYS, and that the collector was restarted after " +
        "that variable changed. The event was not stored.",
    );
    this.name = "KeyRefusedError";
    this.id = id;
  }
}

/**
 * The event did not reach the collector. `retryable` says whether trying again later can help (the collector was
 * unavailable) or not (it refused the request: a 403, 404, 413 …). `status` is the last HTTP status, 0 for none.
 */
export class DeliveryError extends Error {
  readonly id: string;
  readonly attempts: number;
  readonly status: number;
  readonly retryable: boolean;
  constructor(message: string, details: { id: string; attempts: number; status: number; retryable: boolean }) {
    super(message);
    this.name = "DeliveryError";
    this.id = details.id;
    this.attempts = details.attempts;
    this.status = details.status;
    this.retryable = details.retryable;
  }
}

// --- The client ----------------------------------------------------------------------------------------------

export interface ServerClientOptions {
  /** The collector's batch URL, e.g. `https://collect.example.com/v1/batch`. */
  endpoint: string;
  /** One of the collector's REFTRACK_SERVER_KEYS. Sent only as `Authorization: Bearer …`, never in a message. */
  key: string;
  /** The site's event schema document (CONTRACT section 4): every event is checked against it before it is sent. */
  schema?: object;
  /** Each attempt gives up after this long without an answer. Default 10 000 ms. */
  timeoutMs?: number;
  /** No wait before a retry may end later than this long after `track` was called. Default 60 000 ms. */
  maxElapsedMs?: number;
  fetch?: typeof globalThis.fetch;
  /** In [0, 1), for the backoff's jitter. Default Math.random. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface ServerTrackInput {
  event: string;
  customer: ServerCustomer;
  metadata?: JsonObject;
  /** The referral claimed by the visitor (`readReferral`'s result fits as it is); only its code is sent. */
  referral?: { code: string } | null;
  /**
   * The event's id, for a caller whose own job queue keeps it across process restarts: the collector drops an id it
   * already has, so resending under the same id never counts twice. Default: a new random UUID per `track` call.
   * Use one nobody can guess (a random UUID kept with the job): a browser that sent an event under it first would
   * make the collector refuse this one.
   */
  id?: string;
}

export interface ServerTrackResult {
  id: string;
  /** The collector already had this event (by `id`, or by the schema's `once_per_customer`) and kept the first. */
  duplicate: boolean;
}

export interface ServerClient {
  track(input: ServerTrackInput): Promise<ServerTrackResult>;
}

/** One batch item as the site's server sends it: no anonymous id and no page, which a server does not have. */
export interface ServerEvent {
  id: string;
  event: string;
  timestamp: string;
  customer: ServerCustomer;
  metadata: JsonObject;
  referral?: { code: string };
  context: { library: { name: "reftrack"; version: string } };
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_ELAPSED_MS = 60_000;
/** The ids the collector accepts (wire.ts); a UUID fits. */
const EVENT_ID = /^[A-Za-z0-9_-]{8,64}$/;
/** What an HTTP header value may hold: a key read from a file with its trailing newline would make fetch throw. */
const HEADER_TOKEN = /^[\x21-\x7E]+$/;

const defaultSleep = (ms: number): Promise<void> =>
  // A referenced timer on purpose: a process must not exit quietly while an event waits for its retry.
  new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A client that sends the site's server-side events (conversions) to the collector, one event per request, with
 * `Authorization: Bearer <key>`. Invalid options throw at once (a TypeError, or a ValidationError for the schema),
 * so a misconfigured server fails when it starts rather than on its first conversion.
 */
export function createServerClient(options: ServerClientOptions): ServerClient {
  const config = checkOptions(options);
  const checker = options.schema === undefined ? schemaless : compileSchema(options.schema);
  return {
    async track(input) {
      const event = buildServerEvent(checkTrackInput(input, checker), config.now());
      return deliver(config, event);
    },
  };
}

interface ClientConfig {
  endpoint: string;
  key: string;
  timeoutMs: number;
  maxElapsedMs: number;
  fetch: typeof globalThis.fetch;
  random: () => number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

function checkOptions(options: ServerClientOptions): ClientConfig {
  if (typeof options.endpoint !== "string" || !isHttpUrl(options.endpoint)) {
    throw new TypeError("createServerClient: `endpoint` must be the collector's http(s) URL without credentials in it, e.g. https://collect.example.com/v1/batch");
  }
  if (typeof options.key !== "string" || !HEADER_TOKEN.test(options.key)) {
    throw new TypeError(
      "createServerClient: `key` must be one of the collector's REFTRACK_SERVER_KEYS, without spaces or line breaks " +
        "(a key read from a file or an environment variable may carry a trailing newline: trim it)",
    );
  }
  return {
    endpoint: options.endpoint,
    key: options.key,
    timeoutMs: positive(options.timeoutMs, DEFAULT_TIMEOUT_MS, "timeoutMs"),
    maxElapsedMs: positive(options.maxElapsedMs, DEFAULT_MAX_ELAPSED_MS, "maxElapsedMs"),
    // Looked up at each call, not captured now: a test or an instrumentation library may replace the global later.
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    random: options.random ?? Math.random,
    sleep: options.sleep ?? defaultSleep,
    now: options.now ?? Date.now,
  };
}

/** http(s), and no user name or password: fetch refuses those, and an error message would show them. */
function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "https:" || url.protocol === "http:") && url.username === "" && url.password === "";
  } catch {
    return false;
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(Number.isFinite(value) && value > 0)) throw new TypeError(`createServerClient: \`${name}\` must be a positive number of milliseconds`);
  return value;
}

// --- Checking and building the event -------------------------------------------------------------------------

interface CheckedInput {
  id: string;
  event: string;
  customer: ServerCustomer;
  metadata: JsonObject;
  code: string | null;
}

/**
 * The event as it will be sent, or a ValidationError listing every problem at once (customer, referral, id and the
 * schema's), so one failed call shows everything to fix. Nothing is sent for an event that fails.
 */
function checkTrackInput(input: ServerTrackInput, checker: EventChecker): CheckedInput {
  const issues: Issue[] = [];
  const customer = customerOrIssues(input.customer, issues);
  const code = input.referral?.code;
  if (input.referral && (typeof code !== "string" || !REFERRAL_CODE.test(code))) {
    const received = typeof code === "string" ? JSON.stringify(code.slice(0, 70)) : typeof code;
    issues.push({ path: "referral.code", message: `Expected 1 to 64 letters, digits, '.', '_' or '-' (a referral code), but received: ${received}` });
  }
  if (input.id !== undefined && (typeof input.id !== "string" || !EVENT_ID.test(input.id))) {
    issues.push({ path: "id", message: "Expected 8 to 64 letters, digits, '_' or '-' (a UUID fits): leave it out to get a new one" });
  }
  // Every event here comes from the server, the one sender trusted with `"source": "server"` events; and it always
  // names its customer, so `customer: "required"` is met.
  const checked = checker.check({ event: input.event, metadata: input.metadata, identified: true }, { sender: "server" });
  if (!checked.ok) issues.push(...checked.issues);
  if (issues.length > 0 || !checked.ok || !customer) throw new ValidationError(`Invalid event ${JSON.stringify(String(input.event))}, not sent`, issues);
  return { id: input.id ?? randomUUID(), event: input.event, customer, metadata: checked.metadata, code: code ?? null };
}

// Only what the client must know to send at all; the collector checks every other customer field and answers with
// issues, so that list lives in one place (wire.ts).
const CustomerStruct = loose({
  // `anon_` marks the browser's placeholder customer: the collector would take such an event for an anonymous one.
  source_id: refine(size(string(), 1, 200), "not anonymous", (value) => !value.startsWith("anon_") || 'must not start with "anon_", which marks anonymous visitors'),
});

/**
 * The customer as JSON will carry it (an `email: undefined` straight from a database row is dropped, as JSON drops
 * it, rather than refused), with its `source_id` checked; or null, with the issues.
 */
function customerOrIssues(customer: unknown, issues: Issue[]): ServerCustomer | null {
  const json = asJson(customer);
  if (json === undefined) {
    issues.push({ path: "customer", message: "cannot be turned into JSON (a BigInt, or a cycle?): give plain strings, numbers and objects" });
    return null;
  }
  const checked = validateOrIssues(json, CustomerStruct, { prefix: "customer" });
  if (!checked.ok) issues.push(...checked.issues);
  // The cast names what the collector will check in full; only source_id is known here to be right.
  return checked.ok ? (json as ServerCustomer) : null;
}

/** `value` after a JSON round trip, or undefined when JSON cannot carry it. */
function asJson(value: unknown): unknown {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

function buildServerEvent(input: CheckedInput, now: number): ServerEvent {
  return {
    id: input.id,
    event: input.event,
    timestamp: new Date(now).toISOString(),
    customer: input.customer,
    metadata: input.metadata,
    ...(input.code !== null ? { referral: { code: input.code } } : {}),
    context: { library: { name: "reftrack", version: __REFTRACK_VERSION__ } },
  };
}

// --- Delivery ------------------------------------------------------------------------------------------------

/** What one attempt got back: an HTTP answer, or none, with why. */
type Answer = { kind: "http"; status: number; retryAfter: string | null; body: unknown } | { kind: "none"; reason: string };

/** What an answer means for the event. */
type Outcome =
  | { kind: "stored"; duplicate: boolean }
  | { kind: "retry"; retryAfterMs: number | null; reason: string }
  | { kind: "fail"; error: Error };

/** Sends `event` until the collector answers for it, retrying with backoff within `maxElapsedMs`. */
async function deliver(config: ClientConfig, event: ServerEvent): Promise<ServerTrackResult> {
  const started = config.now();
  for (let attempt = 1; ; attempt++) {
    const answer = await attemptOnce(config, event);
    const outcome = interpretAnswer(answer, event, config.now(), attempt);
    if (outcome.kind === "stored") return { id: event.id, duplicate: outcome.duplicate };
    if (outcome.kind === "fail") throw outcome.error;
    // A clock or random source that returns nonsense must not make the bound unreachable: give up instead.
    const wait = retryDelay(attempt, outcome.retryAfterMs, config.random);
    const elapsed = config.now() - started;
    const status = answer.kind === "http" ? answer.status : 0;
    if (!(elapsed + wait <= config.maxElapsedMs)) throw gaveUp(event, attempt, status, outcome.reason, elapsed);
    await config.sleep(wait);
  }
}

/** One POST of `event`; never rejects: a network failure or a timeout is an answer with status 0. */
async function attemptOnce(config: ClientConfig, event: ServerEvent): Promise<Answer> {
  // Outside the try: the event is checked JSON, so a failure here is a bug to see, not a network error to retry.
  const body = JSON.stringify({ sent_at: new Date(config.now()).toISOString(), batch: [event] });
  try {
    const response = await config.fetch(config.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${config.key}` },
      body,
      // A redirect is not followed: the event (customer details among them) would go to an address the site never
      // named, and that address's 200 would count as stored. The 3xx itself is the answer, and ends the call.
      redirect: "manual",
      // A collector that hangs would hold the caller's request handler: give up and retry instead.
      signal: AbortSignal.timeout(config.timeoutMs),
    });
    return { kind: "http", status: response.status, retryAfter: response.headers.get("Retry-After"), body: await readJson(response) };
  } catch (error) {
    return { kind: "none", reason: networkReason(error, config) };
  }
}

/** The answer's JSON, or null when it has none: only 2xx, 400 and 422 bodies matter, and those are best effort. */
async function readJson(response: Response): Promise<unknown> {
  try {
    return JSON.parse(await response.text()) as unknown;
  } catch {
    return null;
  }
}

/** Why there was no answer, in words; a thrown message is shown only with the key cut out, whoever wrote it. */
function networkReason(error: unknown, config: ClientConfig): string {
  if (error instanceof Error && error.name === "TimeoutError") return `no answer within ${config.timeoutMs} ms`;
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  const detail = typeof cause?.code === "string" ? cause.code : error instanceof Error ? error.message : String(error);
  return `a network error (${detail.split(config.key).join("[key]").slice(0, 200)})`;
}

/** What the collector's answer (CONTRACT section 6) means for the one event it carried. Pure. */
function interpretAnswer(answer: Answer, event: Pick<ServerEvent, "id" | "event">, now: number, attempts: number): Outcome {
  if (answer.kind === "none") return { kind: "retry", retryAfterMs: null, reason: answer.reason };
  const { status, body } = answer;
  if (status >= 200 && status < 300) return storedOrRejected(body, event);
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(answer.retryAfter, now);
    const asked = retryAfterMs === null ? "" : ` (Retry-After: ${Math.ceil(retryAfterMs / 1000)} s)`;
    return { kind: "retry", retryAfterMs, reason: `the answer ${status}${asked}` };
  }
  if (status === 400 || status === 422) return { kind: "fail", error: rejectedError(event, status, collectorIssues(body, event.id)) };
  if (status === 401) return { kind: "fail", error: new KeyRefusedError(event.id) };
  return { kind: "fail", error: new DeliveryError(refusalMessage(event, status), { id: event.id, attempts, status, retryable: false }) };
}

/**
 * A 2xx means stored, unless the answer names this event among the rejected. A 2xx without the collector's
 * counts (another endpoint of CONTRACT section 6) still means delivered, and says nothing about duplicates.
 */
function storedOrRejected(body: unknown, event: Pick<ServerEvent, "id" | "event">): Outcome {
  const answer = isRecord(body) ? body : {};
  const rejected = Array.isArray(answer.rejected) ? answer.rejected.filter((item) => isRecord(item) && item.id === event.id) : [];
  if (rejected.length > 0) return { kind: "fail", error: rejectedError(event, 200, collectorIssues(answer, event.id)) };
  const duplicate = typeof answer.duplicates === "number" && answer.duplicates > 0 && answer.accepted === 0;
  return { kind: "stored", duplicate };
}

/**
 * The issues of a 400 (`{ error, issues }`) or a 422 (`{ rejected: [{ id, issues }] }`) answer: this event's
 * entries, or every entry when none names it. Never empty: a refusal without reasons says so.
 */
function collectorIssues(body: unknown, id: string): Issue[] {
  const answer = isRecord(body) ? body : {};
  const entries = Array.isArray(answer.rejected) ? answer.rejected.filter(isRecord) : [];
  const mine = entries.filter((entry) => entry.id === id);
  const issues = [...(mine.length > 0 ? mine : entries).flatMap((entry) => issueList(entry.issues)), ...issueList(answer.issues)];
  if (issues.length > 0) return issues;
  const said = typeof answer.message === "string" ? answer.message : typeof answer.error === "string" ? answer.error : "no reason given";
  return [{ path: "", message: `the collector refused the event (${said.slice(0, 300)})` }];
}

function issueList(value: unknown): Issue[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isRecord).map((issue) => ({
    path: typeof issue.path === "string" ? issue.path : "",
    message: typeof issue.message === "string" ? issue.message : "(no message)",
  }));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function rejectedError(event: Pick<ServerEvent, "id" | "event">, status: number, issues: Issue[]): ValidationError {
  // Retrying the same event would get the same answer: the message says to fix the event instead.
  return new ValidationError(`The collector rejected event ${JSON.stringify(event.event)} (id ${event.id}, answer ${status}); fix these and send it again`, issues);
}

function refusalMessage(event: Pick<ServerEvent, "id" | "event">, status: number): string {
  const subject = `The collector answered ${status} to event ${JSON.stringify(event.event)} (id ${event.id})`;
  if (status === 403) return `${subject}: it refuses this request. Retrying does not help: check the collector's logs (a 403 from the collector means an Origin header it does not allow).`;
  if (status === 404) return `${subject}: there is no collector at that address. Check the endpoint given to createServerClient (the collector takes batches at /v1/batch).`;
  if (status === 413) return `${subject}: the event is larger than the collector accepts. Send less metadata.`;
  if (status >= 300 && status < 400) return `${subject}: a redirect, which the client does not follow (the event would go to another address). Give createServerClient the collector's own URL.`;
  return `${subject}. Retrying does not help: check the endpoint given to createServerClient and the collector's logs.`;
}

function gaveUp(event: ServerEvent, attempts: number, status: number, reason: string, elapsedMs: number): DeliveryError {
  const seconds = Math.round(elapsedMs / 100) / 10;
  return new DeliveryError(
    `Event ${JSON.stringify(event.event)} (id ${event.id}) did not reach the collector: ${attempts} attempt${attempts === 1 ? "" : "s"} ` +
      `in ${seconds} s, the last one got ${reason}. It may not be stored. Call track() again later with the same ` +
      "input and `id: error.id`: the collector keeps an id only once, so the retry never counts twice.",
    { id: event.id, attempts, status, retryable: true },
  );
}
