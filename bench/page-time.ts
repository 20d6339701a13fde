// Page-view timing in Chromium, as the page-view benches read it (bench/landing.ts, bench/compile.ts).
import type { CDPSession } from "playwright-core";

/** Milliseconds of `metric` the page has spent so far: ScriptDuration (running JavaScript) unless said otherwise. */
export async function mainThreadMs(cdp: CDPSession, metric = "ScriptDuration"): Promise<number> {
  const { metrics } = await cdp.send("Performance.getMetrics");
  return (metrics.find((entry) => entry.name === metric)?.value ?? 0) * 1000;
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
