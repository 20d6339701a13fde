// @vitest-environment node
// reftrack-collector as a process: what a user of `npx reftrack-collector` relies on.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import Database from "better-sqlite3";
import { voucherifyErrors } from "../voucherify.js";
import { postBatch, startCollectorProcess, wireEvent, type CollectorProcess } from "./process.js";

const READ_TOKEN = "owner-read-token-0123456789abcdef";
const owner = { Authorization: `Bearer ${READ_TOKEN}` };
let dir: string;
let running: CollectorProcess[] = [];
const start = async (args: string[] = [], env: Record<string, string> = {}) => {
  const started = await startCollectorProcess(["--db", join(dir, "events.db"), ...args], env);
  running.push(started);
  return started;
};
const storedIds = () => {
  const db = new Database(join(dir, "events.db"), { readonly: true });
  try {
    return (db.prepare("SELECT id FROM events").all() as { id: string }[]).map((row) => row.id);
  } finally {
    db.close();
  }
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "reftrack-collector-"));
});
afterEach(async () => {
  await Promise.all(running.map((collector) => (collector.process.exitCode === null ? collector.stop("SIGKILL") : undefined)));
  running = [];
  rmSync(dir, { recursive: true, force: true });
});

describe("over HTTP", () => {
  it("answers bad JSON, oversized bodies, foreign origins and mixed batches as documented", async () => {
    const schema = join(dir, "schema.json");
    writeFileSync(schema, JSON.stringify({ events: { share_social: { properties: { network: { type: "string", enum: ["x"] } } } } }));
    const { url } = await start(["--schema", schema, "--allow-origin", "https://site.example"]);
    const badJson = await fetch(`${url}/v1/batch`, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "{" });
    expect([badJson.status, ((await badJson.json()) as { message: string }).message]).toEqual([400, expect.stringContaining("not JSON")]);
    expect((await postBatch(url, [wireEvent({ metadata: { network: "x".repeat(300_000) } })])).status).toBe(413);
    expect((await postBatch(url, [wireEvent()], { Origin: "https://evil.example" })).status).toBe(403);
    const good = wireEvent();
    const bad = wireEvent({ metadata: { network: "y" } });
    const mixed = await postBatch(url, [good, bad], { Origin: "https://site.example" });
    expect(mixed.status).toBe(200);
    expect(mixed.headers.get("access-control-allow-origin")).toBe("https://site.example");
    expect(await mixed.json()).toMatchObject({ accepted: 1, rejected: [{ id: bad.id }] });
    expect(storedIds()).toEqual([good.id]);
  });

  it("50 concurrent clients: no row lost, none doubled, repeats counted", async () => {
    const { url } = await start(["--rate-limit", "100000"]);
    const sent: string[] = [];
    const clients = Array.from({ length: 50 }, async () => {
      for (let round = 0; round < 5; round++) {
        const items = Array.from({ length: 10 }, () => wireEvent());
        sent.push(...items.map((item) => item.id));
        const response = await postBatch(url, items);
        expect(response.status).toBe(200);
        // Every client resends its first batch once, as a browser does when it could not read an answer.
        if (round === 0) expect(await (await postBatch(url, items)).json()).toMatchObject({ accepted: 0, duplicates: 10 });
      }
    });
    await Promise.all(clients);
    const ids = storedIds();
    expect(ids).toHaveLength(2500);
    expect(new Set(ids)).toEqual(new Set(sent));
    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ events: 2500, duplicates: 500 });
  });
});

describe("durability", () => {
  it("kill -9 in the middle of a load, then a restart: every event that got a 2xx is there", async () => {
    const collector = await start(["--rate-limit", "100000"]);
    const acknowledged: string[] = [];
    let stop = false;
    const clients = Array.from({ length: 20 }, async () => {
      while (!stop) {
        const items = Array.from({ length: 5 }, () => wireEvent());
        try {
          const response = await postBatch(collector.url, items);
          if (response.ok) acknowledged.push(...items.map((item) => item.id));
        } catch {
          return; // the process is gone
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 700));
    collector.process.kill("SIGKILL");
    stop = true;
    await Promise.all(clients);
    expect(acknowledged.length).toBeGreaterThan(100);
    const restarted = await start(["--rate-limit", "100000"]);
    const stored = new Set(storedIds());
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    expect(await (await fetch(`${restarted.url}/healthz`)).json()).toMatchObject({ ok: true, events: stored.size });
  });

  it("SIGTERM: finishes the requests in flight, then exits cleanly", async () => {
    const collector = await start(["--rate-limit", "100000"]);
    const items = Array.from({ length: 50 }, () => wireEvent());
    const inFlight = Promise.all(items.map((item) => postBatch(collector.url, [item]).then((response) => response.status, () => 0)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const code = await collector.stop("SIGTERM");
    const statuses = await inFlight;
    expect(code).toBe(0);
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThan(0);
    const stored = new Set(storedIds());
    // Whatever got a 2xx is stored; the rest were refused or never connected, and a browser would retry them.
    expect(items.filter((item, index) => statuses[index] === 200 && !stored.has(item.id))).toEqual([]);
    expect(collector.output()).toContain("SIGTERM");
  });
});

describe("forwarding to Voucherify", () => {
  let fake: Server;
  let fakeUrl = "";
  const accepted: Record<string, unknown>[] = [];
  const requests: { at: number; status: number }[] = [];
  let script: number[] = [];
  const errorsOf = voucherifyErrors();

  beforeEach(async () => {
    accepted.length = 0;
    requests.length = 0;
    fake = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        const parsed = JSON.parse(body) as Record<string, unknown>;
        const unauthorized = request.headers["x-app-id"] !== "app-1" || request.headers["x-app-token"] !== "secret-1";
        const problem = unauthorized ? "bad credentials" : errorsOf(parsed);
        const status = unauthorized ? 401 : problem ? 400 : (script.shift() ?? 200);
        requests.push({ at: Date.now(), status });
        if (status === 200) accepted.push(parsed);
        response.writeHead(status, status === 429 ? { "Retry-After": "1" } : {}).end(JSON.stringify(problem ? { code: 400, message: problem } : { object: "event" }));
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  });
  afterEach(() => new Promise<void>((resolve) => fake.close(() => resolve())));

  const env = () => ({ VOUCHERIFY_APP_ID: "app-1", VOUCHERIFY_SECRET_KEY: "secret-1", VOUCHERIFY_API_URL: fakeUrl, REFTRACK_READ_TOKEN: READ_TOKEN });

  it("forwards every stored event as a valid Voucherify body, through 429 and 500, and never twice after a restart", async () => {
    script = [429, 500, 200, 500];
    const collector = await start([], env());
    const items = Array.from({ length: 6 }, (_, n) => wireEvent({ metadata: { network: "x", n }, referral: { code: "NRY-01" } }));
    expect((await postBatch(collector.url, items)).status).toBe(200);
    await expect.poll(() => accepted.length, { timeout: 20_000 }).toBe(6);
    expect(accepted.map((body) => (body.metadata as { n: number }).n).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(accepted[0]).toEqual({ event: "share_social", customer: { source_id: "anon_1" }, metadata: { network: "x", n: expect.any(Number) }, referral: { code: "NRY-01" } });
    // After the 429, nothing is sent for its Retry-After second.
    const [limited, next] = requests;
    expect((next?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(950);
    const listed = (await (await fetch(`${collector.url}/v1/events`, { headers: owner })).json()) as { events: { forwarding: { status: string } }[] };
    expect(listed.events.map((event) => event.forwarding.status)).toEqual(Array(6).fill("sent"));

    await collector.stop("SIGTERM");
    const before = requests.length;
    await start([], env());
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(requests.length).toBe(before);
  });

  const forwardingOf = async (url: string) =>
    ((await (await fetch(`${url}/v1/events`, { headers: owner })).json()) as { events: { forwarding: { status: string; attempts: number; last_error: string } }[] }).events.map((event) => event.forwarding);

  it("marks an event Voucherify refuses (400) as failed, with the reason, and goes on with the next", async () => {
    script = [400];
    const collector = await start([], env());
    await postBatch(collector.url, [wireEvent({ metadata: { network: "x", n: 1 } }), wireEvent({ metadata: { network: "x", n: 2 } })]);
    await expect.poll(() => forwardingOf(collector.url), { timeout: 10_000 }).toEqual([
      expect.objectContaining({ status: "sent" }),
      expect.objectContaining({ status: "failed", last_error: expect.stringContaining("HTTP 400") }),
    ]);
  });

  it("refused credentials (401) fail nothing: the events wait, uncounted, for the fix", async () => {
    const collector = await start([], { ...env(), VOUCHERIFY_SECRET_KEY: "rotated" });
    await postBatch(collector.url, [wireEvent(), wireEvent()]);
    await expect.poll(() => requests.length, { timeout: 10_000 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(requests).toHaveLength(1); // the whole queue pauses
    expect(await forwardingOf(collector.url)).toEqual([
      expect.objectContaining({ status: "pending", attempts: 0 }),
      expect.objectContaining({ status: "pending", attempts: 0, last_error: expect.stringContaining("HTTP 401") }),
    ]);
  });

  it("restarting with a forward already due while Voucherify is unreachable keeps the collector up", async () => {
    const unreachable = { ...env(), VOUCHERIFY_API_URL: "http://127.0.0.1:9" };
    const first = await start([], unreachable);
    await postBatch(first.url, [wireEvent()]);
    await expect.poll(async () => (await forwardingOf(first.url))[0]?.attempts, { timeout: 10_000 }).toBeGreaterThan(0);
    await first.stop("SIGKILL");
    const second = await start([], unreachable);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(second.process.exitCode).toBeNull();
    expect((await fetch(`${second.url}/healthz`)).status).toBe(200);
  });

  it("a restart loses nothing that was still pending", async () => {
    script = [500, 500, 500];
    const first = await start([], env());
    const items = Array.from({ length: 3 }, (_, n) => wireEvent({ metadata: { network: "x", n } }));
    await postBatch(first.url, items);
    await expect.poll(() => requests.length, { timeout: 10_000 }).toBeGreaterThan(0);
    first.process.kill("SIGKILL");
    await first.exited;
    await start([], env());
    // The kill can land while the first collector holds its 30 s lease on an event: the restarted one (a new owner)
    // takes that event over only when the lease runs out, so the wait covers the lease plus the backoff.
    await expect.poll(() => accepted.length, { timeout: 45_000 }).toBe(3);
    expect(accepted.map((body) => (body.metadata as { n: number }).n).sort()).toEqual([0, 1, 2]);
  });
});
