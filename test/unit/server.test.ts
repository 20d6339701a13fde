// @vitest-environment node
// reftrack/server: the referral a site's server reads from the Cookie header, and the client that sends its
// conversions to the collector. Runs under plain Node, as a site's server does: no window, no document.
import fc from "fast-check";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { compileSchema as compileSchemaOfSchemaModule } from "../../src/schema.js";
import { checkWireEvent, parseBatch } from "../../src/wire.js";
import {
  compileSchema,
  createServerClient,
  defineSchema,
  DeliveryError,
  KeyRefusedError,
  readReferral,
  ValidationError,
  type ServerClientOptions,
} from "../../src/server.js";
import { voucherifyErrors } from "../voucherify.js";

const NOW = Date.parse("2026-11-26T10:00:00.000Z");
const MINUTE = 60_000;
const DAY = 86_400_000;
const iso = (time: number) => new Date(time).toISOString();

/** The cookie as the snippet writes it, built by hand so these tests pin the format itself. */
const cookieValue = (...fields: string[]) => fields.map(encodeURIComponent).join("|");
const refCookie = (code = "NRY-01", captured = NOW - DAY, expires = NOW + 29 * DAY, param = "ref") =>
  `reftrack_ref=${cookieValue(code, param, iso(captured), iso(expires))}`;

describe("readReferral", () => {
  it("reads the contract's example cookie: the code and both times", () => {
    const header = "reftrack_ref=NRY-01|ref|2026-11-26T10%3A00%3A00.000Z|2026-12-26T10%3A00%3A00.000Z";
    expect(readReferral(header, { now: NOW + 60 * MINUTE })).toEqual({
      code: "NRY-01",
      captured_at: "2026-11-26T10:00:00.000Z",
      expires_at: "2026-12-26T10:00:00.000Z",
    });
  });

  it("round-trips any code the snippet accepts, with the times it wrote", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/), fc.integer({ min: 1, max: 365 }), (code, days) => {
        const referral = readReferral(refCookie(code, NOW - MINUTE, NOW - MINUTE + days * DAY), { now: NOW });
        expect(referral).toEqual({ code, captured_at: iso(NOW - MINUTE), expires_at: iso(NOW - MINUTE + days * DAY) });
      }),
    );
  });

  it("finds the cookie among others, including values holding '=' and junk pairs", () => {
    const header = `session=abc==; theme=dark=blue; ;garbage; ${refCookie("PARTNER_7")}; b=2`;
    expect(readReferral(header, { now: NOW })?.code).toBe("PARTNER_7");
  });

  it("uses the server's clock when `now` is not given", () => {
    const now = Date.now();
    expect(readReferral(refCookie("NOW-1", now - DAY, now + DAY))?.code).toBe("NOW-1");
    expect(readReferral(refCookie("OLD-1", now - 3 * DAY, now - DAY))).toBeNull();
  });

  it("accepts a capture up to 5 minutes ahead of the server's clock, not more", () => {
    expect(readReferral(refCookie("AHEAD", NOW + 4 * MINUTE, NOW + 30 * DAY), { now: NOW })?.code).toBe("AHEAD");
    expect(readReferral(refCookie("AHEAD", NOW + 6 * MINUTE, NOW + 30 * DAY), { now: NOW })).toBeNull();
  });

  it("skips an invalid reftrack_ref and takes a valid one after it", () => {
    const header = `reftrack_ref=${cookieValue("<b>", "ref", iso(NOW - DAY), iso(NOW + DAY))}; ${refCookie("SECOND")}`;
    expect(readReferral(header, { now: NOW })?.code).toBe("SECOND");
  });

  const nulls: [string, string | null | undefined, { now?: number; maxDays?: number }?][] = [
    ["no header", undefined],
    ["a null header", null],
    ["an empty header", ""],
    ["no reftrack_ref among other cookies", "a=1; b=2; reftrack_refx=NRY-01; xreftrack_ref=NRY-01"],
    ["an empty value", "reftrack_ref="],
    ["three parts", `reftrack_ref=${cookieValue("NRY-01", "ref", iso(NOW + DAY))}`],
    ["five parts", `reftrack_ref=${cookieValue("NRY-01", "ref", iso(NOW - DAY), iso(NOW + DAY), "x")}`],
    ["bad percent-encoding", `reftrack_ref=NRY-01|ref|2026-11-25T10%3A00%3A00.000Z|2026-12-%E0%A4%A`],
    ["markup as the code", refCookie("<script>")],
    ["a code of 65 characters", refCookie("A".repeat(65))],
    ["a code with a space", refCookie("NRY 01")],
    ["an invalid parameter name", refCookie("NRY-01", NOW - DAY, NOW + DAY, "r=f")],
    ["a capture 10 minutes in the future", refCookie("NRY-01", NOW + 10 * MINUTE, NOW + 30 * DAY)],
    ["an expired window", refCookie("NRY-01", NOW - 31 * DAY, NOW - DAY)],
    ["a window ending right now", refCookie("NRY-01", NOW - 30 * DAY, NOW)],
    ["a window longer than 3650 days", refCookie("NRY-01", NOW - DAY, NOW - DAY + 3651 * DAY)],
    ["a window longer than maxDays", refCookie("NRY-01", NOW - DAY, NOW + 30 * DAY), { now: NOW, maxDays: 30 }],
    ["unparseable dates", `reftrack_ref=${cookieValue("NRY-01", "ref", "yesterday", "next month")}`],
    ["a missing expiry", `reftrack_ref=${cookieValue("NRY-01", "ref", iso(NOW - DAY), "")}`],
  ];
  it.each(nulls)("returns null for %s", (_reason, header, options = { now: NOW }) => {
    expect(readReferral(header, options)).toBeNull();
  });

  it("never throws on any header, and returns only well-formed codes", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((tail) => `reftrack_ref=${tail}`), fc.array(fc.string()).map((parts) => `reftrack_ref=${parts.join("|")}`)), (header) => {
        const referral = readReferral(header, { now: NOW });
        expect(referral === null || /^[A-Za-z0-9._-]{1,64}$/.test(referral.code)).toBe(true);
      }),
    );
    // A framework may keep something other than text under `cookie`; a JavaScript caller can pass it on.
    expect(readReferral(["reftrack_ref=NRY-01"] as unknown as string, { now: NOW })).toBeNull();
  });

  it("refuses an invalid option with a RangeError that names it", () => {
    expect(() => readReferral(refCookie(), { now: Number.NaN })).toThrow(/now/);
    expect(() => readReferral(refCookie(), { now: NOW, maxDays: 0 })).toThrow(/maxDays/);
  });
});

// --- The client ------------------------------------------------------------------------------------------------

const ENDPOINT = "https://collect.example.com/v1/batch";
const KEY = "sk_live_9f8e7d6c5b4a39281706";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const STORED = { accepted: 1, duplicates: 0, rejected: [] };

interface SentBatch {
  sent_at: string;
  batch: Record<string, unknown>[];
}
interface Sent {
  url: string;
  headers: Headers;
  body: SentBatch;
  signal: AbortSignal | null | undefined;
}
type Reply = { status: number; body?: unknown; headers?: Record<string, string> } | "network" | "timeout";

/** A client over a fake fetch that answers `replies` in turn (then 200), and a clock that moves only in sleep(). */
function harness(replies: (Reply | ((sent: Sent) => Reply))[] = [], options: Partial<ServerClientOptions> = {}) {
  let clock = NOW;
  const sent: Sent[] = [];
  const sleeps: number[] = [];
  const fetch = vi.fn(async (url: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const request: Sent = { url: String(url), headers: new Headers(init.headers), body: JSON.parse(String(init.body)) as SentBatch, signal: init.signal };
    sent.push(request);
    const next = replies.shift() ?? { status: 200, body: STORED };
    const reply = typeof next === "function" ? next(request) : next;
    if (reply === "network") throw new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:443"), { code: "ECONNREFUSED" }) });
    if (reply === "timeout") throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
    return new Response(JSON.stringify(reply.body ?? {}), { status: reply.status, headers: reply.headers ?? {} });
  });
  const client = createServerClient({
    endpoint: ENDPOINT,
    key: KEY,
    fetch,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    now: () => clock,
    ...options,
  });
  const ids = () => sent.map((request) => request.body.batch[0]?.id);
  return { client, sent, sleeps, fetch, ids };
}

const signUp = { event: "signed_up", customer: { source_id: "user_42", email: "alex@domain.io" }, metadata: { plan: "pro" }, referral: { code: "NRY-01" } };

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    (value) => ({ resolved: value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected a rejection, but it resolved with ${JSON.stringify(outcome.resolved)}`);
  if (!(outcome.error instanceof Error)) throw new Error(`expected an Error, got ${String(outcome.error)}`);
  return outcome.error;
}

describe("createServerClient: what is sent", () => {
  it("POSTs one event as JSON with the server key as a Bearer token", async () => {
    const { client, sent } = harness();
    const result = await client.track(signUp);
    expect(sent).toHaveLength(1);
    const [request] = sent;
    expect(request?.url).toBe(ENDPOINT);
    expect(request?.headers.get("Authorization")).toBe(`Bearer ${KEY}`);
    expect(request?.headers.get("Content-Type")).toBe("application/json");
    expect(request?.signal).toBeInstanceOf(AbortSignal);
    expect(request?.body.sent_at).toBe(iso(NOW));
    expect(request?.body.batch).toEqual([
      {
        id: result.id,
        event: "signed_up",
        timestamp: iso(NOW),
        customer: { source_id: "user_42", email: "alex@domain.io" },
        metadata: { plan: "pro" },
        referral: { code: "NRY-01" },
        context: { library: { name: "reftrack", version: __REFTRACK_VERSION__ } },
      },
    ]);
    expect(result).toEqual({ id: expect.stringMatching(UUID), duplicate: false });
  });

  it("sends only the code of a referral read from the cookie, and no referral without one", async () => {
    const { client, sent } = harness();
    const referral = readReferral(refCookie("NRY-01"), { now: NOW });
    await client.track({ ...signUp, referral });
    await client.track({ ...signUp, referral: null });
    await client.track({ event: "signed_up", customer: { source_id: "user_43" } });
    expect(sent[0]?.body.batch[0]?.referral).toEqual({ code: "NRY-01" });
    expect(sent[1]?.body.batch[0]).not.toHaveProperty("referral");
    expect(sent[2]?.body.batch[0]).not.toHaveProperty("referral");
    expect(sent[2]?.body.batch[0]?.metadata).toEqual({});
    expect(new Set(sent.map((request) => request.body.batch[0]?.id)).size).toBe(3);
  });

  it("sends a body the collector's batch check takes, whose event is a valid Voucherify custom-event body", async () => {
    const { client, sent } = harness();
    await client.track(signUp);
    const body = sent[0]?.body;
    const parsed = parseBatch(body);
    expect(parsed).toEqual({ batch: body?.batch, sentAt: Date.parse(body?.sent_at ?? "") });
    expect(voucherifyErrors()(body?.batch[0])).toBeNull();
    expect(body?.batch[0]).not.toHaveProperty("anonymous_id");
  });

  it("sends events the collector's own check takes from a server, without an anonymous_id", async () => {
    const checker = compileSchemaOfSchemaModule({
      events: { signed_up: { properties: { plan: { type: "string" } } }, purchase_completed: { source: "server", customer: "required" } },
    });
    const { client, sent } = harness();
    await client.track(signUp);
    await client.track({ event: "purchase_completed", customer: { source_id: "user_42", phone: "+48 600 000 000" } });
    for (const request of sent) expect(checkWireEvent(request.body.batch[0], checker, "server")).toMatchObject({ issues: [], warnings: [] });
  });

  it("sends the customer as JSON carries it: Voucherify's other fields kept, undefined fields left out", async () => {
    const { client, sent } = harness();
    const address = { city: "Warsaw", country: "PL" };
    await client.track({ event: "signed_up", customer: { source_id: "user_42", email: undefined, phone: "+48 600 000 000", address } });
    expect(sent[0]?.body.batch[0]?.customer).toEqual({ source_id: "user_42", phone: "+48 600 000 000", address });
  });

  it("keeps an id the caller gives, for a job queue that outlives the process", async () => {
    const { client, ids } = harness();
    const result = await client.track({ ...signUp, id: "job-000123-signup" });
    expect(result.id).toBe("job-000123-signup");
    expect(ids()).toEqual(["job-000123-signup"]);
  });
});

describe("createServerClient: retries keep the id", () => {
  it("retries through 503, 429 with Retry-After, a network error, 408 and a timeout, with the same id every time", async () => {
    const { client, ids, sleeps } = harness([
      { status: 503 },
      { status: 429, headers: { "Retry-After": "7" } },
      "network",
      { status: 408 },
      "timeout",
      { status: 200, body: STORED },
    ]);
    const result = await client.track(signUp);
    expect(ids()).toHaveLength(6);
    expect(new Set(ids())).toEqual(new Set([result.id]));
    // Full jitter at random() = 0.5: half of 1 s, 2 s, 4 s …; the collector's Retry-After of 7 s wins over it.
    expect(sleeps).toEqual([500, 7000, 2000, 4000, 8000]);
    expect(result.duplicate).toBe(false);
  });

  it("honours a Retry-After given as an HTTP date", async () => {
    const { client, sleeps } = harness([{ status: 503, headers: { "Retry-After": new Date(NOW + 12_000).toUTCString() } }]);
    await client.track(signUp);
    expect(sleeps).toEqual([12_000]);
  });

  it("gives up once the next wait would pass maxElapsedMs, saying how often it tried, what it got, and how to retry", async () => {
    const { client, ids, sleeps } = harness(Array.from({ length: 20 }, () => ({ status: 503 })), { maxElapsedMs: 10_000, random: () => 0.99 });
    const error = await rejection(client.track(signUp));
    expect(error).toBeInstanceOf(DeliveryError);
    // 990 + 1980 + 3960 ms waited; the next wait, 7920 ms, would end past 10 s.
    expect(sleeps).toEqual([990, 1980, 3960]);
    expect(ids()).toHaveLength(4);
    expect(error.message).toContain("4 attempts");
    expect(error.message).toContain("503");
    expect(error.message).toMatch(/again later/);
    const delivery = error as DeliveryError;
    expect(delivery).toMatchObject({ attempts: 4, status: 503, retryable: true, id: ids()[0] });

    // "The same call can be retried later": with the error's id, the collector sees the same event again.
    const later = harness();
    await later.client.track({ ...signUp, id: delivery.id });
    expect(later.ids()).toEqual([delivery.id]);
  });

  it("gives up at once when the collector asks to wait longer than the time left", async () => {
    const { client, sleeps, ids } = harness([{ status: 503, headers: { "Retry-After": "120" } }], { maxElapsedMs: 60_000 });
    const error = await rejection(client.track(signUp));
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error.message).toContain("1 attempt ");
    expect(error.message).toContain("Retry-After: 120 s");
    expect(sleeps).toEqual([]);
    expect(ids()).toHaveLength(1);
  });

  it("names a network failure in the error, without the key even when the failure's text carries it", async () => {
    const fetch = vi.fn(async () => {
      throw new Error(`proxy refused Authorization: Bearer ${KEY}`);
    });
    const { client } = harness([], { fetch, maxElapsedMs: 100 });
    const error = await rejection(client.track(signUp));
    expect(error.message).toContain("network error");
    expect(error.message).not.toContain(KEY);
  });

  it("gives each attempt timeoutMs, then counts it as no answer", async () => {
    // A collector that never answers: the request ends only when its signal aborts.
    const fetch = vi.fn(
      (_url: string | URL | Request, init: RequestInit = {}) =>
        new Promise<Response>((_resolve, reject) => init.signal?.addEventListener("abort", () => reject(init.signal?.reason))),
    );
    const { client } = harness([], { fetch, timeoutMs: 50, maxElapsedMs: 100 });
    const error = await rejection(client.track(signUp));
    expect(error.message).toContain("no answer within 50 ms");
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});

describe("createServerClient: answers that end a call", () => {
  const issue = { path: "metadata.plan", message: 'Expected one of "free", "pro", but received: "gold"' };

  it("rejects a 400 with a ValidationError carrying the collector's issues, without retrying", async () => {
    const { client, sent, sleeps } = harness([{ status: 400, body: { error: "Bad batch", issues: [issue] } }]);
    const error = await rejection(client.track(signUp));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([issue]);
    expect(error.message).toContain("metadata.plan");
    expect(sent).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("rejects a 422 with the issues the collector listed for this event's id, without retrying", async () => {
    const { client, sent } = harness([(request) => ({ status: 422, body: { accepted: 0, duplicates: 0, rejected: [{ id: request.body.batch[0]?.id, issues: [issue] }] } })]);
    const error = await rejection(client.track(signUp));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([issue]);
    expect(sent).toHaveLength(1);
  });

  it("rejects a 2xx whose answer names this event among the rejected", async () => {
    const { client } = harness([(request) => ({ status: 200, body: { accepted: 0, duplicates: 0, rejected: [{ id: request.body.batch[0]?.id, issues: [issue] }] } })]);
    const error = await rejection(client.track(signUp));
    expect((error as ValidationError).issues).toEqual([issue]);
  });

  it("says so when a 400 carries no issues", async () => {
    const { client } = harness([{ status: 400, body: { statusCode: 400, error: "Bad Request", message: "Body is not JSON" } }]);
    const error = await rejection(client.track(signUp));
    expect((error as ValidationError).issues).toEqual([{ path: "", message: "the collector refused the event (Body is not JSON)" }]);
  });

  it("rejects a 401 with KeyRefusedError pointing at REFTRACK_SERVER_KEYS, never showing the key", async () => {
    const { client, sent } = harness([{ status: 401, body: { error: "Unauthorized" } }]);
    const error = await rejection(client.track(signUp));
    expect(error).toBeInstanceOf(KeyRefusedError);
    expect(error.message).toContain("REFTRACK_SERVER_KEYS");
    expect(error.message).toContain("createServerClient");
    expect(error.message).not.toContain(KEY);
    expect(String(error.stack)).not.toContain(KEY);
    expect(sent).toHaveLength(1);
  });

  it.each([403, 404, 413, 418])("rejects a %i naming the status, without retrying", async (status) => {
    const { client, sent } = harness([{ status }]);
    const error = await rejection(client.track(signUp));
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error.message).toContain(String(status));
    expect(error.message).not.toContain(KEY);
    expect((error as DeliveryError).retryable).toBe(false);
    expect(sent).toHaveLength(1);
  });

  it("resolves duplicate: true when the collector already had the event", async () => {
    const { client } = harness([{ status: 200, body: { accepted: 0, duplicates: 1, rejected: [] } }, { status: 200, body: STORED }, { status: 204 }]);
    expect((await client.track(signUp)).duplicate).toBe(true);
    expect((await client.track(signUp)).duplicate).toBe(false);
    // Another endpoint of the contract may answer a bare 2xx: delivered, and not known to be a duplicate.
    expect((await client.track(signUp)).duplicate).toBe(false);
  });
});

describe("createServerClient: checks before sending", () => {
  it("rejects a bad customer and referral code with every issue, and sends nothing", async () => {
    const { client, fetch } = harness();
    const error = await rejection(client.track({ event: "signed_up", customer: { source_id: "" }, referral: { code: "<script>" } }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((issue) => issue.path)).toEqual(["customer.source_id", "referral.code"]);
    expect(fetch).not.toHaveBeenCalled();
  });

  it("refuses a customer JSON cannot carry, and an anonymous one", async () => {
    const { client, fetch } = harness();
    const bigint = await rejection(client.track({ event: "signed_up", customer: { source_id: "user_42", metadata: { n: 1n } } as unknown as { source_id: string } }));
    expect((bigint as ValidationError).issues.map((issue) => issue.path)).toEqual(["customer"]);
    const anonymous = await rejection(client.track({ event: "signed_up", customer: { source_id: "anon_123" } }));
    expect((anonymous as ValidationError).issues).toEqual([{ path: "customer.source_id", message: expect.stringContaining("anon_") }]);
    expect(fetch).not.toHaveBeenCalled();
  });

  it("refuses a source_id over 200 characters, and an id the collector would refuse", async () => {
    const { client, fetch } = harness();
    const long = await rejection(client.track({ event: "signed_up", customer: { source_id: "x".repeat(201) } }));
    expect((long as ValidationError).issues.map((issue) => issue.path)).toEqual(["customer.source_id"]);
    const badId = await rejection(client.track({ ...signUp, id: "short" }));
    expect((badId as ValidationError).issues.map((issue) => issue.path)).toEqual(["id"]);
    expect(fetch).not.toHaveBeenCalled();
  });

  const schema = defineSchema({
    events: {
      signed_up: { customer: "required", properties: { plan: { type: "string", enum: ["free", "pro"], required: true } } },
      purchase_completed: { source: "server", customer: "required", properties: { amount: { type: "number", required: true } } },
    },
  });

  it("checks each event against the schema and sends nothing when it fails", async () => {
    const { client, fetch } = harness([], { schema });
    const missing = await rejection(client.track({ event: "signed_up", customer: { source_id: "user_42" } }));
    expect((missing as ValidationError).issues.map((issue) => issue.path)).toEqual(["metadata.plan"]);
    const unknown = await rejection(client.track({ event: "signed_upp", customer: { source_id: "user_42" } }));
    expect((unknown as ValidationError).issues.map((issue) => issue.path)).toEqual(["event"]);
    expect(fetch).not.toHaveBeenCalled();
    await client.track(signUp);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('sends a "source": "server" event, which the same schema refuses from a browser', async () => {
    expect(compileSchema(schema).check({ event: "purchase_completed", metadata: { amount: 49 }, identified: true }).ok).toBe(false);
    const { client, sent } = harness([], { schema });
    await client.track({ event: "purchase_completed", customer: { source_id: "user_42" }, metadata: { amount: 49 } });
    expect(sent[0]?.body.batch[0]).toMatchObject({ event: "purchase_completed", metadata: { amount: 49 } });
  });

  it("refuses bad options when the client is created, never showing the key", () => {
    expect(() => createServerClient({ endpoint: "collect.example.com/v1/batch", key: KEY })).toThrow(/endpoint/);
    const withNewline = `${KEY}\n`;
    let thrown: unknown;
    try {
      createServerClient({ endpoint: ENDPOINT, key: withNewline });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect(String(thrown)).toMatch(/trailing newline/);
    expect(String(thrown)).not.toContain(KEY);
    expect(() => createServerClient({ endpoint: ENDPOINT, key: KEY, schema: { events: { e: { customer: "always" } } } })).toThrow(ValidationError);
    expect(() => createServerClient({ endpoint: ENDPOINT, key: KEY, maxElapsedMs: -1 })).toThrow(/maxElapsedMs/);
  });

  it("runs without browser globals", () => {
    expect(typeof (globalThis as { window?: unknown }).window).toBe("undefined");
    expect(typeof (globalThis as { document?: unknown }).document).toBe("undefined");
  });
});

describe("createServerClient against a real HTTP server", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  const readBody = async (request: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as SentBatch;
  };

  it("arrives with the same id after two 503s", async () => {
    const arrivals: { id: unknown; authorization: string | undefined; contentType: string | undefined }[] = [];
    server = createServer((request, response) => {
      void readBody(request).then((body) => {
        arrivals.push({ id: body.batch[0]?.id, authorization: request.headers.authorization, contentType: request.headers["content-type"] });
        if (arrivals.length <= 2) {
          response.writeHead(503, { "Retry-After": "1", "Content-Type": "application/json" }).end('{"error":"unavailable"}');
        } else {
          response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(STORED));
        }
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const sleeps: number[] = [];
    const client = createServerClient({
      endpoint: `http://127.0.0.1:${port}/v1/batch`,
      key: KEY,
      sleep: (ms) => {
        sleeps.push(ms);
        return new Promise((resolve) => setTimeout(resolve, 1));
      },
    });
    const result = await client.track(signUp);
    expect(arrivals).toHaveLength(3);
    expect(arrivals.map((arrival) => arrival.id)).toEqual([result.id, result.id, result.id]);
    expect(arrivals[0]).toMatchObject({ authorization: `Bearer ${KEY}`, contentType: "application/json" });
    expect(sleeps).toEqual([1000, 1000]);
    expect(result.duplicate).toBe(false);
  });

  it("does not follow a redirect: the event goes nowhere else, and the call fails once, saying why", async () => {
    let elsewhere = 0;
    const other = createServer((request, response) => {
      elsewhere++;
      request.resume();
      response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(STORED));
    });
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    let attempts = 0;
    server = createServer((request, response) => {
      attempts++;
      request.resume();
      response.writeHead(307, { Location: `http://127.0.0.1:${(other.address() as AddressInfo).port}/v1/batch` }).end();
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const client = createServerClient({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/batch`, key: KEY, sleep: async () => undefined });
    try {
      const error = await client.track(signUp).then(() => null, (failure: unknown) => failure);
      expect(error).toBeInstanceOf(DeliveryError);
      expect((error as DeliveryError).message).toMatch(/answered 307 .*a redirect, which the client does not follow/);
      expect((error as DeliveryError).retryable).toBe(false);
      expect([attempts, elsewhere]).toEqual([1, 0]);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});
