// @vitest-environment node
// Strict input, rate limits that stop floods and not people, and what only the server may claim (issues 8, 9).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { collectorsPerTest, postBatch, wireEvent } from "./process.js";

const { dir, start } = collectorsPerTest({ beforeEach, afterEach });
const SERVER_KEY = "server-key-of-the-site-0123456789";
const server = { Authorization: `Bearer ${SERVER_KEY}` };
const schemaFile = () => {
  const path = join(dir(), "schema.json");
  writeFileSync(path, JSON.stringify({ events: { share_social: { additional_properties: true }, signed_up: { source: "server", once_per_customer: true } } }));
  return path;
};
type Answer = { accepted: number; duplicates: number; rejected: { id: string | null; issues: { path: string; message: string }[] }[] };
const answer = async (response: Response) => (await response.json()) as Answer;
const signup = (customer: Record<string, unknown>) => wireEvent({ event: "signed_up", customer, metadata: {} });

describe("strict input", () => {
  it("refuses timestamps that are not real instants or lie far from the clock, judged against sent_at", async () => {
    const { url } = await start();
    const day = 86_400_000;
    const bad = ["2026-02-30T10:00:00.000Z", "2026-11-26T24:00:00.000Z", "1970-01-01T00:00:00.000Z", new Date(Date.now() + 3 * day).toISOString()];
    for (const timestamp of bad) {
      const response = await postBatch(url, [wireEvent({ timestamp })]);
      expect([timestamp, response.status]).toEqual([timestamp, 422]);
      expect((await answer(response)).rejected[0]?.issues[0]?.path).toBe("timestamp");
    }
    // sent_at moved along with an absurd timestamp changes nothing.
    for (const timestamp of ["0001-01-01T00:00:00.000Z", "9999-12-31T00:00:00.000Z"]) {
      const shifted = await fetch(`${url}/v1/batch`, { method: "POST", headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ sent_at: timestamp, batch: [wireEvent({ timestamp })] }) });
      expect([timestamp, shifted.status]).toEqual([timestamp, 422]);
    }
    // A visitor whose clock is two days behind: its events still count, since sent_at is two days behind too.
    const behind = new Date(Date.now() - 2 * day);
    const skewed = await fetch(`${url}/v1/batch`, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ sent_at: behind.toISOString(), batch: [wireEvent({ timestamp: new Date(behind.getTime() - 1000).toISOString() })] }),
    });
    expect(await answer(skewed)).toMatchObject({ accepted: 1 });
  });

  it("refuses __proto__, constructor and prototype keys anywhere, control characters in names, events over 32 KB; caps issues", async () => {
    const { url } = await start(["--schema", schemaFile()]);
    const hostile = [
      `{"id":"proto-0001","event":"share_social","timestamp":"${new Date().toISOString()}","customer":{"source_id":"anon_1"},"metadata":{"a":{"__proto__":{"admin":true}}},"anonymous_id":"1"}`,
      JSON.stringify(wireEvent({ id: "ctor-000001", metadata: { constructor: 1 } })),
      JSON.stringify(wireEvent({ id: "proto-00002", customer: { source_id: "anon_1", metadata: { prototype: "x" } } })),
    ];
    const body = `{"sent_at":"${new Date().toISOString()}","batch":[${hostile.join(",")}]}`;
    const refused = await answer(await fetch(`${url}/v1/batch`, { method: "POST", headers: { "Content-Type": "text/plain" }, body }));
    expect(refused.rejected.map((item) => item.issues[0]?.path)).toEqual(["metadata.a.__proto__", "metadata.constructor", "customer.metadata.prototype"]);
    for (const name of ["share_social\nsigned_up", "share\u202Esocial", "share\u2028social"]) {
      const control = await answer(await postBatch(url, [wireEvent({ event: name })]));
      expect(control.rejected[0]?.issues[0]).toMatchObject({ path: "event", message: expect.stringContaining("control character") });
    }
    // Nesting thousands of levels deep (no recursive walk survives it) is refused for that event alone, not a 500.
    const deep = `{"id":"deep-000001","event":"share_social","timestamp":"${new Date().toISOString()}","customer":{"source_id":"anon_1"},"metadata":{},"anonymous_id":"1","context":${'{"a":'.repeat(20_000)}1${"}".repeat(20_000)}}`;
    const nested = await fetch(`${url}/v1/batch`, { method: "POST", headers: { "Content-Type": "text/plain" }, body: `{"sent_at":"${new Date().toISOString()}","batch":[${deep},${JSON.stringify(wireEvent({ id: "flat-000001" }))}]}` });
    expect(nested.status).toBe(200);
    const partly = await answer(nested);
    expect(partly).toMatchObject({ accepted: 1, rejected: [{ id: "deep-000001", issues: [{ message: expect.stringContaining("nests deeper than 32 levels") }] }] });
    // Metadata as deep as the browser allows is taken: depth counts from metadata, not from the batch.
    expect(await answer(await postBatch(url, [wireEvent({ metadata: { a: { b: { c: { d: { e: 1 } } } } } })]))).toMatchObject({ accepted: 1 });
    const big = await answer(await postBatch(url, [wireEvent({ metadata: { blob: "x".repeat(9000), more: "y".repeat(9000), again: "z".repeat(9000), last: "w".repeat(9000) } })]));
    expect(big.rejected[0]?.issues[0]?.message).toMatch(/over the limit of 32768 bytes/);
    const many = Object.fromEntries(Array.from({ length: 60 }, (_, n) => [`p${n}`, Number.NaN]));
    const noisy = await fetch(`${url}/v1/batch`, { method: "POST", headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ sent_at: new Date().toISOString(), batch: [wireEvent({ timestamp: "nope", id: "x", customer: {}, metadata: many, anonymous_id: "" })] }) });
    const issues = (await answer(noisy)).rejected[0]?.issues ?? [];
    expect(issues.length).toBeLessThanOrEqual(20);
  });
});

describe("rate limits that stop floods, not people", () => {
  it("default settings: 50 visitors behind one address, 10 batches of 20 events each at once, are all accepted", async () => {
    const { url } = await start();
    const statuses = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const mine: number[] = [];
        await Promise.all(Array.from({ length: 10 }, async () => mine.push((await postBatch(url, Array.from({ length: 20 }, () => wireEvent()))).status)));
        return mine;
      }),
    );
    expect(statuses.flat().filter((status) => status !== 200)).toEqual([]);
    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ events: 10_000 });
  });

  it("default settings: one client sending thousands of batches a minute is slowed with 429 and Retry-After", async () => {
    const { url } = await start();
    let limited: Response | null = null;
    for (let n = 0; n < 1500 && !limited; n++) {
      const response = await postBatch(url, [wireEvent()]);
      if (response.status === 429) limited = response;
    }
    expect(limited?.status).toBe(429);
    expect(Number(limited?.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("--trust-proxy 1: the address is the one the proxy saw, whatever the client wrote; an IPv6 client counts by its /64", async () => {
    const { url } = await start(["--trust-proxy", "1", "--rate-limit", "2"]);
    const via = (forwarded: string) => postBatch(url, [wireEvent()], { "X-Forwarded-For": forwarded }).then((response) => response.status);
    // The client writes a new address each time; the proxy appends the one it saw.
    expect([await via("1.1.1.1, 203.0.113.7"), await via("2.2.2.2, 203.0.113.7"), await via("3.3.3.3, 203.0.113.7")]).toEqual([200, 200, 429]);
    expect(await via("203.0.113.8")).toBe(200);
    expect([await via("2001:db8:1:2::1"), await via("2001:db8:1:2:ffff::9"), await via("2001:db8:1:2::abcd")]).toEqual([200, 200, 429]);
    expect(await via("2001:db8:1:3::1")).toBe(200);
  });

  it("without --trust-proxy, X-Forwarded-For is ignored; bad --trust-proxy values stop the start", async () => {
    const { url } = await start(["--rate-limit", "2"]);
    const statuses = [];
    for (const forwarded of ["1.1.1.1", "2.2.2.2", "3.3.3.3"]) statuses.push((await postBatch(url, [wireEvent()], { "X-Forwarded-For": forwarded })).status);
    expect(statuses).toEqual([200, 200, 429]);
    await expect(start(["--trust-proxy", "true"])).rejects.toThrow(/--trust-proxy takes a number of proxies/);
  });

  it("refused keys count against the address: guessing keys is throttled like any flood", async () => {
    const { url } = await start(["--rate-limit", "3"], { REFTRACK_SERVER_KEYS: SERVER_KEY });
    const statuses = [];
    for (let n = 0; n < 5; n++) statuses.push((await postBatch(url, [wireEvent()], { Authorization: `Bearer guess-${n}-0000000000000000000000` })).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });
});

describe("what only the server may claim", () => {
  it("an id a browser took first cannot turn the server's conversion into a 'duplicate'", async () => {
    const { url } = await start(["--schema", schemaFile()], { REFTRACK_SERVER_KEYS: SERVER_KEY });
    await postBatch(url, [wireEvent({ id: "order-1001" })]);
    const conversion = await answer(await postBatch(url, [{ ...signup({ source_id: "alex@domain.io" }), id: "order-1001" }], server));
    expect(conversion).toMatchObject({ accepted: 0, duplicates: 0, rejected: [{ id: "order-1001", issues: [{ path: "id", message: expect.stringContaining("already the id of a different event") }] }] });
    // The same event sent again is still a plain duplicate.
    const event = signup({ source_id: "sam@domain.io" });
    await postBatch(url, [event], server);
    expect(await answer(await postBatch(url, [event], server))).toMatchObject({ accepted: 0, duplicates: 1, rejected: [] });
  });

  it("one customer is one customer whatever the case, spaces or invisible characters; Voucherify's customer id counts too", async () => {
    const { url } = await start(["--schema", schemaFile()], { REFTRACK_SERVER_KEYS: SERVER_KEY });
    const invisible = ["\u200b", "\u2061", "\u2064", "\u180e", "\u034f", "\ufe0f", "\u3164", "\u115f", "\u{1d173}", "\u{e0020}", "\u2800"];
    const variants = ["alex@x.com", "Alex@X.com", " alex@x.com ", "ａｌｅｘ@x.com", ...invisible.map((character) => `alex${character}@x.com`)];
    const answers = [];
    for (const source_id of variants) answers.push((await answer(await postBatch(url, [signup({ source_id })], server))).accepted);
    expect(answers).toEqual([1, ...variants.slice(1).map(() => 0)]);
    expect((await answer(await postBatch(url, [signup({ source_id: "first@y.com", id: "cust_1" })], server))).accepted).toBe(1);
    expect(await answer(await postBatch(url, [signup({ source_id: "second@y.com", id: "cust_1" })], server))).toMatchObject({ accepted: 0, duplicates: 1 });
  });

  it("a conversion stored before the event was once per customer still counts", async () => {
    const path = join(dir(), "events.db");
    const first = await start([], { REFTRACK_SERVER_KEYS: SERVER_KEY });
    expect((await answer(await postBatch(first.url, [signup({ source_id: "early@domain.io" })], server))).accepted).toBe(1);
    await first.stop("SIGTERM");
    const { url } = await start(["--schema", schemaFile()], { REFTRACK_SERVER_KEYS: SERVER_KEY });
    expect(await answer(await postBatch(url, [signup({ source_id: "early@domain.io" })], server))).toMatchObject({ accepted: 0, duplicates: 1 });
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT COUNT(*) AS n FROM events WHERE event = 'signed_up'").get()).toEqual({ n: 1 });
    db.close();
  });

  it("a browser's customer keeps none of Object's own names either", async () => {
    const { url } = await start([], { REFTRACK_READ_TOKEN: "owner-read-token-0123456789abcdef" });
    const event = wireEvent({ customer: { source_id: "anon_1", toString: "x", valueOf: "y", hasOwnProperty: "z" } });
    const result = (await (await postBatch(url, [event])).json()) as { warnings: { issues: { path: string }[] }[] };
    expect(result.warnings[0]?.issues.map((issue) => issue.path)).toEqual(["customer.toString", "customer.valueOf", "customer.hasOwnProperty"]);
    const listed = (await (await fetch(`${url}/v1/events`, { headers: { Authorization: "Bearer owner-read-token-0123456789abcdef" } })).json()) as { events: { body: { customer: object } }[] };
    expect(listed.events[0]?.body.customer).toEqual({ source_id: "anon_1" });
  });
});

describe("forwarding keeps the key safe", () => {
  let fake: Server;
  let fakeUrl = "";
  const hits: string[] = [];
  beforeEach(async () => {
    hits.length = 0;
    fake = createServer((request, response) => {
      hits.push(`${request.url} ${request.headers["x-app-token"] ?? ""}`);
      response.writeHead(307, { Location: `http://127.0.0.1:${(fake.address() as AddressInfo).port}/stolen` }).end();
    });
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  });
  afterEach(() => new Promise<void>((resolve) => fake.close(() => resolve())));
  const voucherify = (api: string) => ({ VOUCHERIFY_APP_ID: "app", VOUCHERIFY_SECRET_KEY: "secret-key-of-voucherify", VOUCHERIFY_API_URL: api });

  it("never follows a redirect with the secret key, and says so in the log", async () => {
    const collector = await start([], { ...voucherify(fakeUrl), QUIET: "" });
    await postBatch(collector.url, [wireEvent()]);
    await expect.poll(() => hits.length, { timeout: 10_000 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(hits).toEqual(["/v1/events secret-key-of-voucherify"]);
    expect(collector.output()).toContain("redirect");
    expect(collector.output()).not.toContain("secret-key-of-voucherify");
  });

  it("refuses a plain http:// Voucherify address that is not loopback, or one with credentials", async () => {
    await expect(start([], voucherify("http://api.voucherify.io"))).rejects.toThrow(/VOUCHERIFY_API_URL must use https:\/\//);
    await expect(start([], voucherify("https://user:pw@api.voucherify.io"))).rejects.toThrow(/must not carry a user name or password/);
  });
});

describe("errors that say what to do, at start", () => {
  it("refuses an --allow-origin no browser would send, suggesting the origin meant", async () => {
    await expect(start(["--allow-origin", "https://www.example.com/"])).rejects.toThrow(/--allow-origin takes an origin .* "https:\/\/www\.example\.com\/" is not one \(did you mean https:\/\/www\.example\.com\?\)/);
    await expect(start(["--allow-origin", "www.example.com"])).rejects.toThrow(/did you mean https:\/\/www\.example\.com\?/);
    const { url } = await start(["--allow-origin", "https://www.example.com", "--allow-origin", "http://localhost:*"]);
    expect((await postBatch(url, [wireEvent()], { Origin: "https://www.example.com" })).status).toBe(200);
  });

  it("names the schema file, and the line and column of broken JSON", async () => {
    const path = join(dir(), "broken.schema.json");
    writeFileSync(path, '{\n  "events": {\n    "a": { "properties": {, }\n  }\n}\n');
    await expect(start(["--schema", path])).rejects.toThrow(new RegExp(`--schema ${path} is not valid JSON at line 3, column 27`));
    writeFileSync(path, JSON.stringify({ events: { a: { requird: true } } }));
    await expect(start(["--schema", path])).rejects.toThrow(new RegExp(`--schema ${path}: Invalid event schema: events\\.a\\.requird`));
    await expect(start(["--schema", join(dir(), "missing.json")])).rejects.toThrow(/missing\.json cannot be read \(ENOENT\)/);
  });
});
