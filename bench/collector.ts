// reftrack-collector ingest under load on loopback: events per second stored, and request latency (p50, p99).
// The load is bounded: 20 clients × 50 batches × 20 events, each batch durably committed before its 2xx.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { postBatch, startCollectorProcess, wireEvent } from "../test/collector/process.js";

const CLIENTS = 20;
const BATCHES = 50;
const EVENTS = 20;

const dir = mkdtempSync(join(tmpdir(), "reftrack-bench-"));
const collector = await startCollectorProcess(["--db", join(dir, "bench.db"), "--rate-limit", "1000000"]);
try {
  // Warm up connections and the database.
  await Promise.all(Array.from({ length: CLIENTS }, () => postBatch(collector.url, [wireEvent()])));
  const latencies: number[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let batch = 0; batch < BATCHES; batch++) {
        const items = Array.from({ length: EVENTS }, () => wireEvent({ metadata: { network: "x", batch } }));
        const sent = performance.now();
        const response = await postBatch(collector.url, items);
        await response.arrayBuffer();
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        latencies.push(performance.now() - sent);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(1);
  const total = CLIENTS * BATCHES * EVENTS;
  console.log(`collector ingest (${CLIENTS} clients × ${BATCHES} batches × ${EVENTS} events, WAL + synchronous=FULL)`);
  console.log(`  events stored per second      ${Math.round(total / seconds)}`);
  console.log(`  batches per second            ${Math.round((CLIENTS * BATCHES) / seconds)}`);
  console.log(`  request latency p50 / p99     ${at(0.5)} ms / ${at(0.99)} ms`);
} finally {
  await collector.stop("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
