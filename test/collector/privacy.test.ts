// @vitest-environment node
// A collector only its owners can read, whose files, logs and answers keep personal data in (issue 9), as a process.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { chmodSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import Database from "better-sqlite3";
import { collectorsPerTest, postBatch, startCollectorProcess, wireEvent } from "./process.js";

const READ_TOKEN = "owner-read-token-0123456789abcdef";
const owner = { Authorization: `Bearer ${READ_TOKEN}` };
const { dir, start } = collectorsPerTest({ beforeEach, afterEach });
const read = (url: string, query = "", headers: Record<string, string> = owner) => fetch(`${url}/v1/events${query}`, { headers });

describe("reading needs the owner's token", () => {
  it("without REFTRACK_READ_TOKEN every read is refused, saying how to turn reading on", async () => {
    const { url } = await start();
    await postBatch(url, [wireEvent({ customer: { source_id: "alex@domain.io", email: "alex@domain.io" } })]);
    for (const headers of [{}, owner, { Origin: "http://localhost:3000" }] as Record<string, string>[]) {
      const response = await read(url, "", headers);
      const body = await response.text();
      expect(response.status).toBe(401);
      expect(body).toContain("set REFTRACK_READ_TOKEN");
      expect(body).not.toContain("alex@domain.io");
    }
  });

  it("with it: a wrong or missing token is 401; the token reads; no CORS headers for any origin; never cached", async () => {
    const { url } = await start([], { REFTRACK_READ_TOKEN: READ_TOKEN });
    const event = wireEvent({ customer: { source_id: "alex@domain.io", email: "alex@domain.io" } });
    await postBatch(url, [event]);
    expect((await read(url, "", {})).status).toBe(401);
    expect((await read(url, "", { Authorization: `Bearer ${READ_TOKEN}x` })).status).toBe(401);
    expect((await read(url, "", { Authorization: `Basic ${READ_TOKEN}` })).status).toBe(401);
    // A script on an allowed origin (an XSS on the site, a third-party tag) holding no token.
    const fromPage = await read(url, "", { Origin: "http://localhost:3000" });
    expect([fromPage.status, fromPage.headers.get("access-control-allow-origin")]).toEqual([401, null]);
    const ok = await read(url, "", { ...owner, Origin: "http://localhost:3000" });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBeNull();
    expect(ok.headers.get("cache-control")).toBe("no-store");
    expect(((await ok.json()) as { events: { id: string }[] }).events.map((item) => item.id)).toEqual([event.id]);
    // The batch route still answers browsers with CORS.
    expect((await postBatch(url, [wireEvent()], { Origin: "http://localhost:3000" })).headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
  });

  it("reads are rate limited, refused ones too; an impossible since or an unknown parameter is a 400, not a crash or everything", async () => {
    const { url } = await start([], { REFTRACK_READ_TOKEN: READ_TOKEN });
    for (const query of ["?since=2026-12-31T23:59:60Z", "?since=9999-12-31T23:59:59-23:59", "?custmer=alex@domain.io"]) {
      const response = await read(url, query);
      expect([query, response.status]).toEqual([query, 400]);
    }
    const statuses: number[] = [];
    for (let n = 0; n < 60; n++) statuses.push((await read(url)).status);
    for (let n = 0; n < 65; n++) statuses.push((await read(url, "", {})).status);
    expect(statuses.slice(0, 60).every((status) => status === 200)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
  });

  it("a preflight for the read API gets no CORS answer", async () => {
    const { url } = await start([], { REFTRACK_READ_TOKEN: READ_TOKEN });
    const preflight = await fetch(`${url}/v1/events`, { method: "OPTIONS", headers: { Origin: "http://localhost:3000", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization" } });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    expect(preflight.headers.get("access-control-allow-headers")).toBeNull();
  });
});

describe("personal data stays in", () => {
  it("creates the database, its -wal and -shm readable by the collector's user alone, and fixes an older world-readable one", async () => {
    const path = join(dir(), "events.db");
    const first = await start();
    await postBatch(first.url, [wireEvent()]);
    for (const file of [path, `${path}-wal`, `${path}-shm`]) expect([file, statSync(file).mode & 0o777]).toEqual([file, 0o600]);
    await first.stop("SIGKILL");
    const old = new Database(path);
    old.close();
    chmodSync(path, 0o644);
    await start();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("logs carry no email, name, customer id, metadata value, query string or key", async () => {
    const collector = await startCollectorProcess(["--db", join(dir(), "logged.db"), "--schema", schemaWithEnum()], {
      QUIET: "",
      LOG_LEVEL: "trace",
      REFTRACK_READ_TOKEN: READ_TOKEN,
      REFTRACK_SERVER_KEYS: "server-key-of-the-site-0123456789",
    });
    try {
      const personal = { source_id: "alex.personal@domain.io", email: "alex.personal@domain.io", name: "Alexandra Personal", metadata: { secret_note: "call-me-maybe" } };
      await postBatch(collector.url, [wireEvent({ customer: personal }), wireEvent({ customer: personal, metadata: { network: "alexandra-network" } })]);
      await read(collector.url, "?customer=alex.personal%40domain.io");
      await postBatch(collector.url, [wireEvent()], { Authorization: "Bearer server-key-of-the-site-0123456789" });
      await fetch(`${collector.url}/v1/batch`, { method: "POST", headers: { "Content-Type": "text/plain" }, body: '{"x": "alex.personal@domain.io' });
      // A mistyped path with a query, and a request so malformed that the HTTP parser gives up on it.
      await fetch(`${collector.url}/v1/event?customer=alex.personal%40domain.io`, { headers: owner });
      await rawRequest(collector.url, `GET /v1/events?customer=alex.personal@domain.io HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${READ_TOKEN}\r\nBad Header\r\n\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const log = collector.output();
      expect(log).toContain("rejected events in a batch");
      for (const secret of ["alex.personal", "Alexandra", "call-me-maybe", "alexandra-network", "customer=", READ_TOKEN, "server-key-of-the-site"]) {
        expect(log, secret).not.toContain(secret);
      }
    } finally {
      await collector.stop("SIGKILL");
    }
  });

  it("a full disk answers 503 with Retry-After and a generic body; the events can be sent again later", async () => {
    // A 400 KB filesystem of the collector's own (a tmpfs in a user and mount namespace): SQLite fills it for real.
    const child = spawn(
      "unshare",
      ["-rm", "sh", "-c", `mount -t tmpfs -o size=400k tmpfs "$0" && exec "${process.execPath}" packages/collector/dist/collector.js --port 0 --db "$0/events.db" --rate-limit 100000`, dir()],
      { env: { ...process.env, QUIET: "1" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start: ${output}`)), 15_000);
        child.stdout.on("data", () => {
          const match = /listening on (http:\/\/\S+)/.exec(output);
          if (match?.[1]) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        });
      });
      let answer: Response | null = null;
      for (let n = 0; n < 400 && answer === null; n++) {
        const response = await postBatch(url, Array.from({ length: 20 }, () => wireEvent({ metadata: { network: "x".repeat(900) } })));
        if (response.status !== 200) answer = response;
      }
      expect(answer?.status).toBe(503);
      expect(answer?.headers.get("retry-after")).toBe("30");
      const body = await answer?.text();
      expect(body).toContain("send them again later");
      expect(body).not.toMatch(/SQLITE|disk|database|stack/i);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("--retain-days", () => {
  it("deletes settled events older than N days and their forwarding rows; keeps pending ones, newer ones, and once-per-customer claims", async () => {
    const path = join(dir(), "events.db");
    const schema = schemaWithEnum();
    const first = await start(["--schema", schema], { REFTRACK_SERVER_KEYS: SERVER_KEY });
    const claimed = wireEvent({ event: "signed_up", customer: { source_id: "old@domain.io" }, metadata: {} });
    expect(await (await postBatch(first.url, [claimed], { Authorization: `Bearer ${SERVER_KEY}` })).json()).toMatchObject({ accepted: 1 });
    await first.stop("SIGTERM");
    const db = new Database(path);
    const insert = db.prepare("INSERT INTO events (id, received_at, event, source_id, body) VALUES (?, ?, 'share_social', 'anon_1', '{}')");
    const forward = db.prepare("INSERT INTO forwards (event_seq, status, updated_at) VALUES (?, ?, '2020-01-01T00:00:00Z')");
    const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
    forward.run(insert.run("old-sent-0001", old).lastInsertRowid, "sent");
    forward.run(insert.run("old-pending-01", old).lastInsertRowid, "pending");
    insert.run("old-plain-0001", old);
    insert.run("new-plain-0001", new Date().toISOString());
    db.prepare("UPDATE events SET received_at = ? WHERE id = ?").run(old, claimed.id);
    db.close();

    const second = await start(["--schema", schema, "--retain-days", "30"], { REFTRACK_SERVER_KEYS: SERVER_KEY, REFTRACK_READ_TOKEN: READ_TOKEN });
    const ids = ((await (await read(second.url, "?limit=500")).json()) as { events: { id: string }[] }).events.map((item) => item.id).sort();
    expect(ids).toEqual(["new-plain-0001", "old-pending-01"]);
    const check = new Database(path, { readonly: true });
    expect(check.prepare("SELECT COUNT(*) AS n FROM forwards").get()).toEqual({ n: 1 });
    check.close();
    // The sign-up itself is gone, and still the customer cannot sign up for a second reward.
    const again = await postBatch(second.url, [wireEvent({ event: "signed_up", customer: { source_id: "old@domain.io" }, metadata: {} })], { Authorization: `Bearer ${SERVER_KEY}` });
    expect(await again.json()).toMatchObject({ accepted: 0, duplicates: 1 });
  });
});

const SERVER_KEY = "server-key-of-the-site-0123456789";
/** Sends bytes as they are, for requests no HTTP client would make. */
function rawRequest(url: string, text: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => socket.end(text));
    socket.on("data", () => undefined);
    socket.on("close", () => resolve());
    socket.on("error", () => resolve());
  });
}

function schemaWithEnum(): string {
  const path = join(dir(), "schema.json");
  const events = { share_social: { properties: { network: { type: "string", enum: ["x", "linkedin"] } } }, signed_up: { source: "server", once_per_customer: true } };
  writeFileSync(path, JSON.stringify({ events }));
  return path;
}
