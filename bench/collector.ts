// reftrack-collector ingest under load on loopback: events per second stored, and request latency (p50, p99), on
// SQLite (one collector, the embedded default) and on PostgreSQL (one collector, then two sharing one database; a
// throwaway cluster of the machine's own binaries, default durability). The load is bounded: 50 clients × 20 batches
// × 20 events, each batch durably committed before its 2xx; with two collectors the clients alternate between them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { postBatch, startCollectorProcess, wireEvent, type CollectorProcess } from "../test/collector/process.js";
import { postgresMissing, startPostgres } from "../test/collector/postgres-cluster.js";

const CLIENTS = 50;
const BATCHES = 20;
const EVENTS = 20;

async function ingest(collectors: CollectorProcess[]): Promise<{ eventsPerSecond: number; batchesPerSecond: number; p50: string; p99: string }> {
  const urlOf = (client: number) => collectors[client % collectors.length]?.url ?? "";
  // Warm up connections and the database.
  await Promise.all(Array.from({ length: CLIENTS }, (_, client) => postBatch(urlOf(client), [wireEvent()])));
  const latencies: number[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let batch = 0; batch < BATCHES; batch++) {
        const items = Array.from({ length: EVENTS }, () => wireEvent({ metadata: { network: "x", batch } }));
        const sent = performance.now();
        const response = await postBatch(urlOf(client), items);
        await response.arrayBuffer();
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        latencies.push(performance.now() - sent);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(1);
  return { eventsPerSecond: Math.round((CLIENTS * BATCHES * EVENTS) / seconds), batchesPerSecond: Math.round((CLIENTS * BATCHES) / seconds), p50: at(0.5), p99: at(0.99) };
}

const rows: [string, Awaited<ReturnType<typeof ingest>> | string][] = [];
const dir = mkdtempSync(join(tmpdir(), "reftrack-bench-"));
const sqlite = await startCollectorProcess(["--db", join(dir, "bench.db"), "--rate-limit", "1000000"]);
try {
  rows.push(["SQLite, 1 collector (WAL + synchronous=FULL)", await ingest([sqlite])]);
} finally {
  await sqlite.stop("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
const missing = postgresMissing();
if (missing) rows.push(["PostgreSQL", `not measured: ${missing}`]);
else {
  const cluster = await startPostgres();
  try {
    // The first round on a new cluster runs cold (its caches, its WAL files being created): run, not shown.
    for (const [count, shown] of [[1, false], [1, true], [2, true]] as const) {
      const url = await cluster.createDatabase(`bench_${count}_${shown}`);
      const collectors = await Promise.all(Array.from({ length: count }, () => startCollectorProcess(["--rate-limit", "1000000"], { REFTRACK_DB: url })));
      try {
        const figures = await ingest(collectors);
        if (shown) rows.push([`PostgreSQL, ${count} collector${count > 1 ? "s" : ""} (synchronous_commit=on)`, figures]);
      } finally {
        await Promise.all(collectors.map((collector) => collector.stop("SIGTERM")));
      }
    }
  } finally {
    await cluster.stop();
  }
}
console.log(`collector ingest (${CLIENTS} clients × ${BATCHES} batches × ${EVENTS} events, each batch committed before its answer)`);
console.log(`  ${"".padEnd(52)} ${"events/s".padStart(9)} ${"batches/s".padStart(10)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)}`);
for (const [label, figures] of rows) {
  if (typeof figures === "string") console.log(`  ${label.padEnd(52)} ${figures}`);
  else console.log(`  ${label.padEnd(52)} ${String(figures.eventsPerSecond).padStart(9)} ${String(figures.batchesPerSecond).padStart(10)} ${figures.p50.padStart(8)} ${figures.p99.padStart(8)}`);
}

// 50 visitors behind one address (an office, a carrier's NAT), each sending 10 batches of 20 events at once, on the
// default settings; beside the old default of 120 batches a minute, in the same run. Nothing is retried: the figure
// is what one burst gets through.
const NAT_CLIENTS = 50;
const NAT_BATCHES = 10;
async function natBurst(args: string[]): Promise<{ accepted: number; limited: number; seconds: number }> {
  const natDir = mkdtempSync(join(tmpdir(), "reftrack-bench-nat-"));
  const nat = await startCollectorProcess(["--db", join(natDir, "bench.db"), ...args]);
  try {
    let accepted = 0;
    let limited = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: NAT_CLIENTS }, () =>
        Promise.all(
          Array.from({ length: NAT_BATCHES }, async () => {
            const response = await postBatch(nat.url, Array.from({ length: EVENTS }, () => wireEvent()));
            await response.arrayBuffer();
            if (response.ok) accepted += EVENTS;
            else if (response.status === 429) limited++;
          }),
        ),
      ),
    );
    return { accepted, limited, seconds: (performance.now() - started) / 1000 };
  } finally {
    await nat.stop("SIGTERM");
    rmSync(natDir, { recursive: true, force: true });
  }
}
const total = NAT_CLIENTS * NAT_BATCHES * EVENTS;
console.log(`\n${NAT_CLIENTS} clients behind one address, ${NAT_BATCHES} batches × ${EVENTS} events each, all at once (${total} events)`);
for (const [label, args] of [["default (1200 batches/min)", []], ["old default (120 batches/min)", ["--rate-limit", "120"]]] as const) {
  const { accepted, limited, seconds } = await natBurst([...args]);
  console.log(`  ${label.padEnd(30)} accepted ${String(accepted).padStart(6)} of ${total}, ${String(limited).padStart(3)} × 429, ${Math.round(accepted / seconds)} accepted events/s`);
}
