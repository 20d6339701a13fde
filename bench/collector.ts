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
