// @vitest-environment node
import { afterAll, describe, expect, it } from "vitest";
import { resolve } from "node:path";
import { createDemoServer } from "../../demo/server.js";

const root = resolve(import.meta.dirname, "../..");
const app = createDemoServer({ siteDir: resolve(root, "demo"), distDir: resolve(root, "dist") });
afterAll(() => app.close());

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
const post = (payload: unknown, contentType = "text/plain;charset=UTF-8") =>
  app.inject({ method: "POST", url: "/v1/batch", headers: { "content-type": contentType }, payload: typeof payload === "string" ? payload : JSON.stringify(payload) });
const batch = (...items: unknown[]) => ({ sent_at: "2026-11-26T10:00:01.000Z", batch: items });

describe("the demo collection endpoint", () => {
  it("accepts a batch sent as text/plain or application/json, and lists it", async () => {
    const a = event();
    const b = event({ referral: { code: "SRV-1" } });
    expect((await post(batch(a))).json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect((await post(batch(b), "application/json")).statusCode).toBe(200);
    const listed = (await app.inject({ url: "/v1/events?referral=SRV-1" })).json();
    expect(listed.events.map((item: { event: { id: string } }) => item.event.id)).toEqual([b.id]);
  });

  it("drops an id it has already stored", async () => {
    const a = event();
    await post(batch(a));
    expect((await post(batch(a))).json()).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
  });

  it("checks each event with the same schema as the browser: mixed batches keep the valid items", async () => {
    const good = event();
    const bad = event({ metadata: { network: "myspace" } });
    const response = await post(batch(good, bad));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [{ id: bad.id, issues: [{ path: "metadata.network", message: expect.stringContaining("Expected one of") }] }] });
  });

  it("answers 422 with per-item issues when every item is invalid", async () => {
    const anonymousSignup = event({ event: "signed_up", metadata: { plan: "pro" } });
    const response = await post(batch(anonymousSignup));
    expect(response.statusCode).toBe(422);
    expect(response.json().rejected[0].issues).toEqual([{ path: "customer", message: expect.stringContaining("identify") }]);
  });

  it("answers 400 with a message for a body that is not JSON or not a batch", async () => {
    const notJson = await post("{nope");
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().message).toContain("not JSON");
    const notBatch = await post({ batch: "x" });
    expect(notBatch.statusCode).toBe(400);
    expect(notBatch.json().issues.map((issue: { path: string }) => issue.path)).toEqual(["sent_at", "batch"]);
  });

  it("answers 413 for a body over 256 KB", async () => {
    expect((await post(batch(event({ metadata: { network: "x".repeat(300_000) } })))).statusCode).toBe(413);
  });
});

describe("the demo's simulated outage", () => {
  it("answers 503 with Retry-After until it is over, then accepts again", async () => {
    const started = (await app.inject({ method: "POST", url: "/demo/outage", payload: { seconds: 5 } })).json();
    expect(started.until).toBeGreaterThan(Date.now());
    const during = await post(batch(event()));
    expect(during.statusCode).toBe(503);
    expect(Number(during.headers["retry-after"])).toBeGreaterThanOrEqual(4);
    await app.inject({ method: "POST", url: "/demo/outage", payload: { seconds: 1 } });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await post(batch(event()))).statusCode).toBe(200);
  });
});
