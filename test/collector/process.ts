// A real reftrack-collector process (packages/collector/dist/collector.js), started the way a user starts it.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CollectorProcess {
  url: string;
  process: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startCollectorProcess(args: string[], env: Record<string, string> = {}): Promise<CollectorProcess> {
  const child = spawn(process.execPath, ["packages/collector/dist/collector.js", "--port", "0", ...args], { env: { ...process.env, QUIET: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collector did not start:\n${output}`)), 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => reject(new Error(`collector exited with ${code}:\n${output}`)));
  });
  return {
    url,
    process: child,
    output: () => output,
    exited,
    stop: (signal = "SIGTERM") => {
      child.kill(signal);
      return exited;
    },
  };
}

let counter = 0;
export const wireEvent = (overrides: Record<string, unknown> = {}) => ({
  id: `p${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`,
  event: "share_social",
  timestamp: new Date().toISOString(),
  customer: { source_id: "anon_1" },
  metadata: { network: "x" },
  anonymous_id: "1",
  context: { page: { url: "http://x/", path: "/", referrer: "", title: "" }, library: { name: "reftrack", version: "0.1.0" } },
  ...overrides,
});

export const postBatch = (url: string, items: unknown[], headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/batch`, {
    method: "POST",
    headers: { "Content-Type": "text/plain;charset=UTF-8", ...headers },
    body: JSON.stringify({ sent_at: new Date().toISOString(), batch: items }),
  });

/**
 * Collectors on a fresh database folder for each test of the calling file, killed (-9) and removed after it.
 * Call at the top of a test file; `start` spawns one on the folder's `events.db`.
 */
export function collectorsPerTest(hooks: { beforeEach: (fn: () => void) => void; afterEach: (fn: () => Promise<void>) => void }) {
  let dir = "";
  let running: CollectorProcess[] = [];
  hooks.beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "reftrack-collector-"));
  });
  hooks.afterEach(async () => {
    await Promise.all(running.map((collector) => (collector.process.exitCode === null ? collector.stop("SIGKILL") : undefined)));
    running = [];
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir: () => dir,
    start: async (args: string[] = [], env: Record<string, string> = {}) => {
      const started = await startCollectorProcess(["--db", join(dir, "events.db"), ...args], env);
      running.push(started);
      return started;
    },
  };
}
