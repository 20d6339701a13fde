// @vitest-environment node
// The collector's HTTP surface through fastify.inject, on an in-memory SQLite database.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { gzipSync } from "node:zlib";
import { resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import { migrate, openDb, type Db } from "../../src/collector/db.js";
import { buildCollector, originMatcher } from "../../src/collector/server.js";
import { createEventStore } from "../../src/collector/store.js";
import { compileSchema } from "../../src/schema.js";
import { createDemoServer } from "../../demo/server.js";

const checker = compileSchema({
  events: {
    share_social: { properties: { network: { type: "string", enum: ["x", "linkedin"], required: true } } },
    signed_up: { customer: "required", properties: {} },
  },
});

const READ_TOKEN = "read-token-for-the-owner-0123456789";
const owner = { authorization: `Bearer ${READ_TOKEN}` };
let db: Db;
let app: FastifyInstance;
const start = async (rateLimit = 1000) => {
  db = openDb(":memory:");
  app = await buildCollector({ store: createEventStore(db, { forwarding: false }), checker, allowOrigin: originMatcher(["https://site.example", "http://localhost:*"]), rateLimit, readTokens: [READ_TOKEN] });
};
beforeEach(() => start());
afterEach(async () => {
  await app.close();
  db.close();
});

let counter = 0;
const event = (overrides: Record<string, unknown> = {}) => ({
  id: `evt-${Date.now()}-${counter++}`,
  event: "share_social",
  timestamp: "2026-11-26T10:00:00.000Z",
  customer: { source_id: "anon_1" },
  metadata: { network: "x" },
  anonymous_id: "1",
  context: { page: { url: "http://x/", path: "/", referrer: "", title: "" }, library: { name: "reftrack", version: "0.1.0" } },
  ...overrides,
});
const batch = (...items: unknown[]) => ({ sent_at: "2026-11-26T10:00:01.000Z", batch: items });
const post = (payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({
    method: "POST",
    url: "/v1/batch",
    headers: { "content-type": "text/plain;charset=UTF-8", ...headers },
    payload: typeof payload === "string" || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
  });
const list = async (query = "") => (await app.inject({ url: `/v1/events${query}`, headers: owner })).json();

describe("receiving", () => {
  it("stores a batch sent as text/plain, application/json or gzip, and reads it back", async () => {
    const [a, b, c] = [event(), event({ referral: { code: "NRY-01" } }), event()];
    expect((await post(batch(a))).json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect((await post(batch(b), { "content-type": "application/json" })).statusCode).toBe(200);
    expect((await post(gzipSync(JSON.stringify(batch(c))), { "content-encoding": "gzip" })).json()).toMatchObject({ accepted: 1 });
    const stored = await list();
    expect(stored.events.map((item: { id: string }) => item.id)).toEqual([c.id, b.id, a.id]);
    expect(stored.events[1]).toMatchObject({ event: "share_social", source_id: "anon_1", referral_code: "NRY-01", body: b, forwarding: null });
  });

  it("answers 400 with a message for malformed JSON, and for a body that is not a batch", async () => {
    const malformed = await post("{nope");
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().message).toContain("not JSON");
    const notBatch = await post({ batch: "x" });
    expect(notBatch.statusCode).toBe(400);
    expect(notBatch.json().issues.map((issue: { path: string }) => issue.path)).toEqual(["sent_at", "batch"]);
  });

  it("answers 413 for a body over 256 KB, including a small gzip body that inflates past it", async () => {
    expect((await post(batch(event({ metadata: { network: "x".repeat(300_000) } })))).statusCode).toBe(413);
    const bomb = gzipSync(JSON.stringify(batch(event({ metadata: { network: "x".repeat(2_000_000) } }))));
    expect(bomb.length).toBeLessThan(10_000);
    expect((await post(bomb, { "content-encoding": "gzip" })).statusCode).toBe(413);
  });

  it("keeps the valid items of a mixed batch and lists the rejected ids with their issues", async () => {
    const good = event();
    const bad = event({ metadata: { network: "myspace" } });
    const response = await post(batch(good, bad));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [{ id: bad.id, issues: [{ path: "metadata.network", message: expect.stringContaining("Expected one of") }] }] });
    expect((await list()).events.map((item: { id: string }) => item.id)).toEqual([good.id]);
  });

  it("answers 422 with per-item issues when every item is invalid", async () => {
    const anonymousSignup = event({ event: "signed_up", metadata: {} });
    const malformed = { id: "x" };
    const response = await post(batch(anonymousSignup, malformed));
    expect(response.statusCode).toBe(422);
    expect(response.json().rejected).toEqual([
      { id: anonymousSignup.id, issues: [{ path: "customer", message: expect.stringContaining("identify") }] },
      { id: "x", issues: expect.arrayContaining([expect.objectContaining({ path: "id" })]) },
    ]);
  });

  it("drops repeated ids, within a batch and across batches, and counts them", async () => {
    const a = event();
    expect((await post(batch(a, a))).json()).toMatchObject({ accepted: 1, duplicates: 1 });
    expect((await post(batch(a))).json()).toMatchObject({ accepted: 0, duplicates: 1 });
    expect((await app.inject({ url: "/healthz" })).json()).toMatchObject({ ok: true, events: 1, duplicates: 2 });
  });
});

describe("origins", () => {
  it("refuses a foreign origin with 403", async () => {
    const response = await post(batch(event()), { origin: "https://evil.example" });
    expect(response.statusCode).toBe(403);
    expect(await list()).toMatchObject({ total: 0 });
  });

  it("lets allowed origins send and read Retry-After", async () => {
    const response = await post(batch(event()), { origin: "https://site.example" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["access-control-allow-origin"]).toBe("https://site.example");
    expect(response.headers["access-control-expose-headers"]).toContain("Retry-After");
    expect((await post(batch(event()), { origin: "http://localhost:5173" })).statusCode).toBe(200);
  });

  it("matches a port wildcard exactly, not as a prefix", () => {
    const allowed = originMatcher(["http://localhost:*"]);
    expect(allowed("http://localhost:8787")).toBe(true);
    expect(allowed("http://localhost.evil.example:80")).toBe(false);
    expect(allowed("http://localhost:8787.evil.example")).toBe(false);
  });
});

describe("rate limit", () => {
  it("answers 429 with Retry-After past the limit per client address", async () => {
    await app.close();
    db.close();
    await start(2);
    expect((await post(batch(event()))).statusCode).toBe(200);
    expect((await post(batch(event()))).statusCode).toBe(200);
    const limited = await post(batch(event()), { origin: "https://site.example" });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(limited.headers["access-control-expose-headers"]).toContain("Retry-After");
  });
});

describe("reading", () => {
  it("filters by event, referral code, customer and time, and pages newest first", async () => {
    const items = [
      event({ referral: { code: "A" } }),
      event({ referral: { code: "B" }, customer: { source_id: "alex@domain.io" } }),
      event({ referral: { code: "A" }, customer: { source_id: "alex@domain.io" } }),
    ];
    for (const item of items) await post(batch(item));
    expect((await list("?referral=A")).events.map((item: { id: string }) => item.id)).toEqual([items[2]?.id, items[0]?.id]);
    expect((await list("?customer=alex@domain.io&referral=B")).total).toBe(1);
    expect((await list("?event=signed_up")).total).toBe(0);
    expect((await list("?since=2000-01-01T00:00:00Z")).total).toBe(3);
    expect((await list("?since=2999-01-01T00:00:00Z")).total).toBe(0);
    for (const bad of ["since=yesterday", "since=%2B010000-01-01T00:00:00Z", "since=1", "before=abc", "limit=0", "limit=501", "event=a&event=b"]) {
      expect([bad, (await app.inject({ url: `/v1/events?${bad}`, headers: owner })).statusCode]).toEqual([bad, 400]);
    }
    const first = await list("?limit=2");
    expect(first.events).toHaveLength(2);
    const second = await list(`?limit=2&before=${first.next}`);
    expect(second).toMatchObject({ total: 3, next: null });
    expect(second.events.map((item: { id: string }) => item.id)).toEqual([items[0]?.id]);
  });
});

describe("migrations", () => {
  it("bring a new database to the latest version, and run again as a no-op", () => {
    const fresh = openDb(":memory:");
    const version = fresh.pragma("user_version", { simple: true });
    expect(version).toBeGreaterThanOrEqual(2);
    expect(migrate(fresh)).toBe(version);
    expect(fresh.pragma("user_version", { simple: true })).toBe(version);
    expect(fresh.pragma("journal_mode", { simple: true })).toBe("memory"); // WAL applies to files; see the process tests
    fresh.close();
  });
});

describe("the demo server", () => {
  it("serves the site and the bundle, and its simulated outage answers 503 with Retry-After, then recovers", async () => {
    const root = resolve(import.meta.dirname, "../..");
    const demo = await createDemoServer({ siteDir: resolve(root, "demo"), distDir: resolve(root, "dist"), readToken: READ_TOKEN });
    const send = () => demo.inject({ method: "POST", url: "/v1/batch", headers: { "content-type": "text/plain" }, payload: JSON.stringify(batch(event())) });
    expect((await demo.inject({ url: "/" })).statusCode).toBe(200);
    expect((await send()).statusCode).toBe(200);
    expect((await demo.inject({ method: "POST", url: "/demo/outage", payload: { seconds: 5 } })).statusCode).toBe(401);
    expect((await send()).statusCode).toBe(200);
    await demo.inject({ method: "POST", url: "/demo/outage", payload: { seconds: 5 }, headers: owner });
    const during = await send();
    expect(during.statusCode).toBe(503);
    expect(Number(during.headers["retry-after"])).toBeGreaterThanOrEqual(4);
    await demo.inject({ method: "POST", url: "/demo/outage", payload: { seconds: 1 }, headers: owner });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await send()).statusCode).toBe(200);
    await demo.close();
  });

  it("gives its read token only to its own live view, on this machine's own host names", async () => {
    const root = resolve(import.meta.dirname, "../..");
    const demo = await createDemoServer({ siteDir: resolve(root, "demo"), distDir: resolve(root, "dist"), readToken: READ_TOKEN });
    const page = await demo.inject({ url: "/events.html", headers: { host: "127.0.0.1:8787" } });
    expect(page.body).toContain(`content="${READ_TOKEN}"`);
    expect(page.headers["cache-control"]).toBe("no-store");
    // DNS rebinding: a page on attacker.example whose name now points here.
    const rebound = await demo.inject({ url: "/events.html", headers: { host: "attacker.example:8787" } });
    expect([rebound.statusCode, rebound.body.includes(READ_TOKEN)]).toEqual([403, false]);
    for (const url of ["/events", "/events.html?x=1"]) expect((await demo.inject({ url, headers: { host: "evil.test" } })).body).not.toContain(READ_TOKEN);
    expect((await demo.inject({ url: "/v1/events" })).statusCode).toBe(401);
    expect((await demo.inject({ url: "/events.schema.json" })).json()).toHaveProperty("events.signed_up");
    // The router decodes the path; the token check is on the route, whatever spelling reaches it.
    for (const url of ["/demo/%6Futage", "/demo/outag%65", "/demo/outage"]) expect((await demo.inject({ method: "POST", url, payload: { seconds: 5 } })).statusCode).toBe(401);
    await demo.close();
  });
});
