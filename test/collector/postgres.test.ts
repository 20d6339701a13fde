// @vitest-environment node
// Many collectors on one PostgreSQL database, as real processes (packages/collector/dist/collector.js) on a throwaway
// cluster: what two collectors behind a load balancer promise together, through a collector's and the database's own
// crash (kill -9).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { postBatch, startCollectorProcess, wireEvent, type CollectorProcess } from "./process.js";
import { clusterPerFile } from "./postgres-cluster.js";

const { missing, cluster } = clusterPerFile({ beforeAll, afterAll }, "PostgreSQL process tests");

const READ_TOKEN = "read-token-for-the-owner-0123456789";
const owner = { authorization: `Bearer ${READ_TOKEN}` };


let running: CollectorProcess[] = [];
afterEach(async () => {
  await Promise.all(running.map((collector) => (collector.process.exitCode === null ? collector.stop("SIGKILL") : undefined)));
  running = [];
});

let databases = 0;
const freshDatabase = () => {
  return cluster().createDatabase(`process_${process.pid}_${databases++}`);
};
/** A collector on `url`, the URL given through REFTRACK_DB (so no password would show in ps) or as `--db`. */
const start = async (url: string, how: "env" | "flag" | "DATABASE_URL", env: Record<string, string> = {}) => {
  const args = ["--rate-limit", "1000000", ...(how === "flag" ? ["--db", url] : [])];
  const location: Record<string, string> = how === "env" ? { REFTRACK_DB: url } : how === "DATABASE_URL" ? { DATABASE_URL: url } : {};
  const collector = await startCollectorProcess(args, { REFTRACK_READ_TOKEN: READ_TOKEN, ...location, ...env });
  running.push(collector);
  return collector;
};

/** Every stored id, through the read API's pages. */
async function storedIds(url: string): Promise<string[]> {
  const ids: string[] = [];
  let before: number | null = null;
  do {
    const response = await fetch(`${url}/v1/events?limit=500${before === null ? "" : `&before=${before}`}`, { headers: owner });
    const page = (await response.json()) as { events: { id: string }[]; next: number | null };
    ids.push(...page.events.map((event) => event.id));
    before = page.next;
  } while (before !== null);
  return ids;
}

const countsOf = (ids: string[]) => {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
};

describe.skipIf(missing !== null)("two collectors on one PostgreSQL database", () => {
  it("start together on a fresh database; the same ids posted to both at once are stored once", async () => {
    const url = await freshDatabase();
    // The cluster trusts loopback, so the password is not checked; what matters is that it is never printed.
    const [a, b, c] = await Promise.all([start(url.replace("reftrack@", "reftrack:pw-never-printed@"), "env"), start(url, "flag"), start(url, "DATABASE_URL")]);
    expect(c.output()).toContain(`database ${url}`);
    expect(a.output()).toMatch(/database postgres:\/\/reftrack:\*\*\*@127\.0\.0\.1:\d+\/process_/);
    expect(a.output()).not.toContain("pw-never-printed");
    const events = Array.from({ length: 40 }, () => wireEvent());
    const answers = await Promise.all(
      Array.from({ length: 10 }, async (_, n) => (await postBatch([a, b, c][n % 3]?.url ?? "", [...events].reverse().slice(0, 20 + n * 2).concat(events))).json() as Promise<{ accepted: number; duplicates: number }>),
    );
    expect(answers.reduce((sum, answer) => sum + answer.accepted, 0)).toBe(40);
    const ids = await storedIds(b.url);
    expect(ids.sort()).toEqual(events.map((event) => event.id).sort());
    expect(((await (await fetch(`${a.url}/healthz`)).json()) as { events: number }).events).toBe(40);
  });

  it("a database that cannot be reached stops the start with the reason, never the password", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const address = closed.address();
    await new Promise((resolve) => closed.close(resolve));
    const url = `postgres://reftrack:pw-never-printed@127.0.0.1:${typeof address === "object" && address ? address.port : 1}/nowhere`;
    const failure = startCollectorProcess([], { REFTRACK_DB: url });
    await expect(failure).rejects.toThrow(/exited with 1:\s+reftrack-collector: .*ECONNREFUSED/);
    await expect(failure).rejects.not.toThrow(/pw-never-printed/);
  });

  it("50 clients spread over both lose nothing and double nothing", async () => {
    const url = await freshDatabase();
    const collectors = await Promise.all([start(url, "env"), start(url, "env")]);
    const sent: string[] = [];
    await Promise.all(
      Array.from({ length: 50 }, async (_, client) => {
        for (let batch = 0; batch < 4; batch++) {
          const items = Array.from({ length: 10 }, () => wireEvent({ metadata: { client, batch } }));
          // A client's retry of its batch goes to the other collector, as a load balancer may send it.
          const first = await postBatch(collectors[(client + batch) % 2]?.url ?? "", items);
          expect(first.status).toBe(200);
          if (batch === 3) expect((await (await postBatch(collectors[(client + batch + 1) % 2]?.url ?? "", items)).json()) as { duplicates: number }).toMatchObject({ duplicates: 10 });
          sent.push(...items.map((item) => item.id));
        }
      }),
    );
    const ids = await storedIds(collectors[0]?.url ?? "");
    expect(ids.length).toBe(2000);
    expect(new Set(ids)).toEqual(new Set(sent));
  });

  it("a collector killed (-9) in the middle of forwarding: the other forwards everything, its lease run out", async () => {
    const url = await freshDatabase();
    // A Voucherify that answers after 20 ms, and holds every request from the moment `hold` is set.
    const received: string[] = [];
    const held: ServerResponse[] = [];
    let hold = false;
    const voucherify = createServer((request: IncomingMessage, response: ServerResponse) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        received.push(String((JSON.parse(body) as { metadata: { key?: unknown } }).metadata.key));
        if (hold) held.push(response);
        else setTimeout(() => response.writeHead(200, { "Content-Type": "application/json" }).end("{}"), 20);
      });
    });
    await new Promise<void>((resolve) => voucherify.listen(0, "127.0.0.1", resolve));
    const address = voucherify.address();
    const api = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    try {
      const env = { VOUCHERIFY_APP_ID: "app-1", VOUCHERIFY_SECRET_KEY: "secret-1", VOUCHERIFY_API_URL: api };
      const [a, b] = await Promise.all([start(url, "env", env), start(url, "env", env)]);
      const events = Array.from({ length: 60 }, (_, n) => wireEvent({ metadata: { key: `k${n}` } }));
      expect((await postBatch(a.url, events.slice(0, 30))).status).toBe(200);
      expect((await postBatch(b.url, events.slice(30))).status).toBe(200);
      await waitFor(() => received.length >= 10, 20_000);
      hold = true;
      // Both collectors now have one request in flight; `a` dies with it, its outcome never recorded.
      await waitFor(() => held.length >= 2, 20_000);
      a.process.kill("SIGKILL");
      await a.exited;
      hold = false;
      for (const response of held.splice(0)) response.writeHead(200).end("{}");
      // `b` takes over `a`'s forward once its 30 s lease runs out.
      await waitFor(async () => {
        const health = (await (await fetch(`${b.url}/healthz`)).json()) as { forwarding: { sent?: number } };
        return health.forwarding.sent === 60;
      }, 60_000);
      const counts = countsOf(received);
      const twice = [...counts].filter(([, count]) => count > 1);
      console.log(`kill -9 during forwarding: ${received.length} requests to Voucherify for 60 events, ${twice.length} sent twice (${twice.map(([key]) => key).join(", ") || "none"})`);
      expect(events.every((event) => (counts.get(String((event.metadata as { key?: unknown }).key)) ?? 0) >= 1)).toBe(true);
      // Only what was in flight when `a` died can go out twice: one request at a time per collector.
      expect(twice.length).toBeLessThanOrEqual(1);
    } finally {
      voucherify.closeAllConnections();
      await new Promise((resolve) => voucherify.close(resolve));
    }
  }, 120_000);

  it("PostgreSQL killed (-9) under load and restarted: every acknowledged id is there, and the collectors carry on", async () => {
    const url = await freshDatabase();
    const collectors = await Promise.all([start(url, "env"), start(url, "env")]);
    const acknowledged: string[] = [];
    let refused = 0;
    let sending = true;
    const clients = Array.from({ length: 20 }, async (_, client) => {
      let batch = 0;
      while (sending) {
        const items = Array.from({ length: 10 }, () => wireEvent({ metadata: { client, batch: batch++ } }));
        try {
          const response = await postBatch(collectors[client % 2]?.url ?? "", items);
          await response.arrayBuffer();
          if (response.ok) acknowledged.push(...items.map((item) => item.id));
          else refused++;
        } catch {
          refused++;
        }
      }
    });
    await waitFor(() => acknowledged.length >= 500, 20_000);
    cluster().kill();
    const atKill = acknowledged.length;
    // A load balancer asking now is told this collector cannot take traffic.
    await waitFor(async () => (await fetch(`${collectors[0]?.url ?? ""}/healthz`)).status === 503, 5_000);
    await cluster().restart();
    expect(collectors.map((collector) => [collector.process.exitCode, collector.output()])).toEqual([[null, expect.any(String)], [null, expect.any(String)]]);
    await waitFor(() => acknowledged.length >= atKill + 500, 30_000);
    sending = false;
    await Promise.all(clients);
    console.log(`kill -9 of PostgreSQL under load: ${acknowledged.length} events acknowledged, ${refused} batches refused (503) while it was down`);
    expect(refused).toBeGreaterThan(0);
    const ids = await storedIds(collectors[1]?.url ?? "");
    const stored = new Set(ids);
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    expect(ids.length).toBe(stored.size);
    expect(collectors.every((collector) => collector.process.exitCode === null)).toBe(true);
  }, 120_000);
});

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
