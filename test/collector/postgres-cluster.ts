// A throwaway PostgreSQL cluster from the machine's own binaries (Debian's postgresql package), for tests and the
// bench: initdb into a temporary folder owned by an unprivileged user (initdb refuses root), a free port on loopback
// (never 5432, never the machine's own cluster), its socket inside the folder; removed when stopped.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/** Debian's binaries (the newest version installed), else whatever initdb the PATH or /usr/local/bin has. */
export function findPostgres(): PostgresBinaries | null {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a)) : [];
  const dirs = [...versions.map((version) => join(root, version, "bin")), "/usr/local/bin", "/usr/bin"];
  for (const dir of dirs) if (existsSync(join(dir, "initdb")) && existsSync(join(dir, "postgres"))) return { initdb: join(dir, "initdb"), postgres: join(dir, "postgres") };
  return null;
}

/** Why PostgreSQL tests cannot run here, or null when they can. `.ci/run` installs the package, so CI never skips. */
export const postgresMissing = (): string | null =>
  findPostgres() ? null : "no PostgreSQL binaries (initdb, postgres) in /usr/lib/postgresql/*/bin or /usr/local/bin: apt-get install postgresql (.ci/run does)";

export interface PostgresCluster {
  /** The cluster's superuser on its default database. */
  url: string;
  port: number;
  /** A new, empty database on the cluster, and its URL. */
  createDatabase(name: string): Promise<string>;
  /** `kill -9` of the postmaster and its backends: no shutdown, as in a crash. */
  kill(): void;
  /** Starts the postmaster again on the same folder and port (crash recovery), once the old one is gone. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address && address.port !== 5432 ? resolve(address.port) : reject(new Error("no free port"))));
    });
  });

/** root: run as `nobody` (uid, gid, and the command prefix); anyone else runs as themselves. */
function unprivileged(): { uid: number; gid: number; prefix: string[] } | null {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => Number(execFileSync("id", [flag, "nobody"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g"), prefix: ["runuser", "-u", "nobody", "--"] };
}

/** The processes whose parent is `pid` (this cluster's own backends), from /proc. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The fields after the command name, which is in parentheses and may hold spaces: state, then the parent's pid.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) children.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startPostgres(options: { settings?: Record<string, string> } = {}): Promise<PostgresCluster> {
  const binaries = findPostgres();
  if (!binaries) throw new Error(postgresMissing() ?? "no PostgreSQL");
  const user = unprivileged();
  const dir = mkdtempSync(join(tmpdir(), "reftrack-pg-"));
  const data = join(dir, "data");
  const socket = join(dir, "socket");
  mkdirSync(socket);
  if (user) for (const path of [dir, socket]) chownSync(path, user.uid, user.gid);
  const run = (command: string, args: string[]) => (user ? [user.prefix[0] ?? "runuser", [...user.prefix.slice(1), command, ...args]] : [command, args]) as [string, string[]];
  const [initCommand, initArgs] = run(binaries.initdb, ["-D", data, "-U", "reftrack", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
  execFileSync(initCommand, initArgs, { stdio: "pipe", cwd: dir });
  const port = await freePort();
  const settings = { listen_addresses: "127.0.0.1", unix_socket_directories: socket, max_connections: "200", ...options.settings };
  let child: ChildProcess | null = null;
  let log = "";

  const postmasterPid = () => {
    try {
      return Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
    } catch {
      return 0;
    }
  };
  const start = async () => {
    const [command, args] = run(binaries.postgres, ["-D", data, "-p", String(port), ...Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`])]);
    child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
    child.stderr?.on("data", (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
    child.stdout?.on("data", () => undefined);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const client = new pg.Client({ host: "127.0.0.1", port, user: "reftrack", database: "postgres" });
      try {
        await client.connect();
        await client.end();
        return;
      } catch (error) {
        await client.end().catch(() => undefined);
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`PostgreSQL did not start (${(error as Error).message}):\n${log}`);
        await sleep(100);
      }
    }
  };
  await start();
  const url = `postgres://reftrack@127.0.0.1:${port}/postgres`;
  // A test run that dies without cleaning up must not leave a cluster behind.
  const onExit = () => {
    const pid = postmasterPid();
    if (pid > 0) {
      try {
        process.kill(pid, "SIGQUIT");
      } catch {
        // already gone
      }
    }
  };
  process.on("exit", onExit);

  return {
    url,
    port,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, "")}"`);
      } finally {
        await client.end();
      }
      return `postgres://reftrack@127.0.0.1:${port}/${encodeURIComponent(name)}`;
    },
    kill() {
      const pid = postmasterPid();
      if (pid <= 0) return;
      // The postmaster and every backend at once, as a power cut would: no backend gets to finish its work.
      for (const child of childrenOf(pid)) {
        try {
          process.kill(child, "SIGKILL");
        } catch {
          // exited meanwhile
        }
      }
      process.kill(pid, "SIGKILL");
    },
    async restart() {
      // The backends of a killed postmaster exit when they notice; until then the old shared memory is in use.
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          await start();
          return;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await sleep(300);
        }
      }
    },
    async stop() {
      process.off("exit", onExit);
      const pid = postmasterPid();
      if (pid > 0) {
        try {
          // Immediate shutdown: a test's data is not worth a checkpoint.
          process.kill(pid, "SIGQUIT");
        } catch {
          // already gone
        }
        const deadline = Date.now() + 10_000;
        while (existsSync(join(data, "postmaster.pid")) && Date.now() < deadline) await sleep(50);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One throwaway cluster for the calling test file: started before its tests where the binaries exist, stopped after.
 * `missing` says why its PostgreSQL tests are skipped (printed once); `cluster()` is the running cluster.
 */
export function clusterPerFile(hooks: { beforeAll: (fn: () => Promise<void>, timeout: number) => void; afterAll: (fn: () => Promise<void>) => void }, label: string) {
  const missing = postgresMissing();
  if (missing) console.log(`${label} skipped: ${missing}`);
  let running: PostgresCluster | null = null;
  hooks.beforeAll(async () => {
    if (!missing) running = await startPostgres();
  }, 60_000);
  hooks.afterAll(async () => {
    await running?.stop();
  });
  return {
    missing,
    cluster(): PostgresCluster {
      if (!running) throw new Error("no cluster");
      return running;
    },
  };
}
