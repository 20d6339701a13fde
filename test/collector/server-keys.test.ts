// @vitest-environment node
// Conversions only the site's server can claim (CONTRACT sections 4, 6 and 8), against a real collector process.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { collectorsPerTest, postBatch, startCollectorProcess, wireEvent } from "./process.js";

const KEY = "k3y-0f-the-site-server-abcdef0123456789";
const OTHER_KEY = "second-key-for-rotation-0123456789abcdef";
const { dir, start } = collectorsPerTest({ beforeEach, afterEach });

const schemaFile = () => {
  const path = join(dir(), "schema.json");
  writeFileSync(
    path,
    JSON.stringify({
      events: {
        signed_up: { source: "server", once_per_customer: true, customer: "required", properties: { plan: { type: "string" } } },
        share_social: { properties: { network: { type: "string" } } },
      },
    }),
  );
  return path;
};
const READ_TOKEN = "owner-read-token-0123456789abcdef";
const withKeys = () => ({ REFTRACK_SERVER_KEYS: `${KEY}, ${OTHER_KEY}`, REFTRACK_READ_TOKEN: READ_TOKEN });
const bearer = (key: string) => ({ Authorization: `Bearer ${key}`, "Content-Type": "application/json" });
const signup = (source_id: string, overrides: Record<string, unknown> = {}) => {
  const { anonymous_id: _anonymous, ...event } = wireEvent({ event: "signed_up", customer: { source_id }, metadata: { plan: "pro" }, referral: { code: "NRY-01" }, ...overrides });
  return event;
};
type Listed = { events: { id: string; source: string; body: { customer: Record<string, unknown> } }[] };
const listed = async (url: string, query = "") => (await (await fetch(`${url}/v1/events?${query}`, { headers: { Authorization: `Bearer ${READ_TOKEN}` } })).json()) as Listed;

describe("server keys", () => {
  it("a key of REFTRACK_SERVER_KEYS marks the batch as the server's; either key of a rotation works; the read API shows the source", async () => {
    const { url } = await start(["--schema", schemaFile()], withKeys());
    const browser = wireEvent();
    expect((await postBatch(url, [browser])).status).toBe(200);
    const first = signup("alex@domain.io");
    const second = signup("sam@domain.io");
    expect(await (await postBatch(url, [first], bearer(KEY))).json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect((await postBatch(url, [second], bearer(OTHER_KEY))).status).toBe(200);
    const sources = Object.fromEntries((await listed(url)).events.map((event) => [event.id, event.source]));
    expect(sources).toEqual({ [browser.id]: "browser", [first.id]: "server", [second.id]: "server" });
  });

  it("an unknown key, a malformed header, or any key when none is configured gets 401 that never echoes the key", async () => {
    const configured = await start(["--schema", schemaFile()], withKeys());
    for (const authorization of [`Bearer ${KEY}x`, `Bearer wrong-key-but-long-enough-000000`, `Basic ${KEY}`, "Bearer"]) {
      const response = await postBatch(configured.url, [signup("alex@domain.io")], { Authorization: authorization });
      const text = await response.text();
      expect(response.status, authorization).toBe(401);
      expect(text).toContain("REFTRACK_SERVER_KEYS");
      expect(text).not.toContain(KEY.slice(0, 12));
    }
    const bare = await startCollectorProcess(["--db", join(dir(), "bare.db"), "--schema", schemaFile()]);
    try {
      const response = await postBatch(bare.url, [signup("alex@domain.io")], bearer(KEY));
      expect(response.status).toBe(401);
      expect(((await response.json()) as { message: string }).message).toMatch(/no server keys: set REFTRACK_SERVER_KEYS/);
    } finally {
      await bare.stop("SIGKILL");
    }
    expect((await listed(configured.url)).events).toEqual([]);
  });

  it("refuses to start with a key too short to be secret, saying how to make one, without printing it", async () => {
    await expect(start([], { REFTRACK_SERVER_KEYS: "short-key" })).rejects.toThrow(/REFTRACK_SERVER_KEYS: key 1 is 9 characters; each must be at least 24 \(make one with: openssl rand -hex 32\)/);
    await expect(start([], { REFTRACK_SERVER_KEYS: "hunter2hunter" })).rejects.not.toThrow(/hunter2hunter/);
  });

  it("a browser's batch cannot carry a server event: rejected with the reason, never stored", async () => {
    const { url } = await start(["--schema", schemaFile()], withKeys());
    const claimed = signup("alex@domain.io");
    const engagement = wireEvent({ metadata: { network: "x" } });
    const response = await postBatch(url, [claimed, engagement]);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      accepted: 1,
      rejected: [{ id: claimed.id, issues: [{ path: "event", message: expect.stringContaining("send it from the site's server") }] }],
    });
    const alone = await postBatch(url, [signup("sam@domain.io")], { Origin: "http://localhost:3000" });
    expect(alone.status).toBe(422);
    expect((await listed(url)).events.map((event) => event.id)).toEqual([engagement.id]);
  });

  it("server requests skip the per-address limit meant for browsers", async () => {
    const { url } = await start(["--schema", schemaFile(), "--rate-limit", "2"], withKeys());
    const browser = [];
    for (let n = 0; n < 3; n++) browser.push((await postBatch(url, [wireEvent()])).status);
    expect(browser).toEqual([200, 200, 429]);
    const server = [];
    for (let n = 0; n < 10; n++) server.push((await postBatch(url, [signup(`customer-${n}@domain.io`)], bearer(KEY))).status);
    expect(server).toEqual(Array(10).fill(200));
  });
});

describe("once per customer", () => {
  it("20 concurrent requests for one customer's conversion store exactly one; the rest are answered as duplicates", async () => {
    const { url } = await start(["--schema", schemaFile()], withKeys());
    const answers = await Promise.all(
      Array.from({ length: 20 }, async () => (await (await postBatch(url, [signup("alex@domain.io")], bearer(KEY))).json()) as { accepted: number; duplicates: number }),
    );
    expect(answers.filter((answer) => answer.accepted === 1 && answer.duplicates === 0)).toHaveLength(1);
    expect(answers.filter((answer) => answer.accepted === 0 && answer.duplicates === 1)).toHaveLength(19);
    expect((await listed(url, "event=signed_up")).events).toHaveLength(1);
    // Another customer, and another event of the same customer, are not affected.
    expect(await (await postBatch(url, [signup("sam@domain.io")], bearer(KEY))).json()).toMatchObject({ accepted: 1 });
    expect(await (await postBatch(url, [wireEvent({ customer: { source_id: "alex@domain.io" } })])).json()).toMatchObject({ accepted: 1 });
  });
});

describe("what a customer may say", () => {
  it("from a browser only source_id, email, name and metadata are kept; the answer names what was dropped", async () => {
    const { url } = await start(["--schema", schemaFile()], withKeys());
    const forged = wireEvent({ customer: { source_id: "anon_1", id: "cust_referrer", email: "a@b.io", address: { city: "X" }, metadata: { vip: true } } });
    const answer = await (await postBatch(url, [forged])).json();
    expect(answer).toMatchObject({
      accepted: 1,
      warnings: [{ id: forged.id, issues: [{ path: "customer.id", message: expect.stringContaining("dropped") }, { path: "customer.address", message: expect.stringContaining("dropped") }] }],
    });
    expect((await listed(url)).events[0]?.body.customer).toEqual({ source_id: "anon_1", email: "a@b.io", metadata: { vip: true } });
  });

  it("from the server every customer field of Voucherify's body is kept", async () => {
    const { url } = await start(["--schema", schemaFile()], withKeys());
    const customer = { source_id: "alex@domain.io", email: "alex@domain.io", phone: "+48 123", birthdate: "1990-01-02", address: { city: "Warsaw", country: "PL" } };
    const answer = await (await postBatch(url, [signup("alex@domain.io", { customer })], bearer(KEY))).json();
    expect(answer).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect((await listed(url)).events[0]?.body.customer).toEqual(customer);
  });
});
