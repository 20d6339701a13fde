// @vitest-environment node
// The two npm packages as a site owner meets them. The checkout is copied without any build, so each package's
// prepack has to build it, as on a fresh clone; each tarball must hold exactly what its exports and bin reach; then
// `reftrack` goes into an empty folder (its two dependencies, nothing compiled) and is imported by Node and by
// TypeScript, and `reftrack-collector` goes into another, compiles better-sqlite3, starts and answers /healthz.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Dependencies a package declares without importing them, each with its reason. */
const PINS: Record<string, string[]> = {
  // fastify accepts light-my-request ^6; 6.6 is the last that needs no Node 22 (6.8 takes cookie 2, engines >=22), so
  // an install on Node 20 prints no EBADENGINE. npm places this direct dependency where fastify finds it.
  "reftrack-collector": ["light-my-request"],
};

// --- Running commands ----------------------------------------------------------------------------------------------

// The environment of a user's shell: without what `npm run` adds about this project, above all
// npm_config_local_prefix, which would make every npm below take the checkout for its project. The user's own npm
// configuration (cache, registry, nodedir, …) stays.
const userEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_package_|npm_lifecycle_|npm_command$|npm_config_local_prefix$|INIT_CWD$)/.test(key)));

interface Ran {
  output: string;
  ms: number;
}

function run(command: string, args: string[], cwd: string, timeoutMs = 300_000): Promise<Ran> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env: userEnv, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (error) reject(new Error(`\`${command} ${args.join(" ")}\` in ${cwd} failed: ${error.message}\n${output}`));
      else resolve({ output, ms: performance.now() - started });
    });
  });
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

// --- Reading a tarball -----------------------------------------------------------------------------------------

interface Tarball {
  file: string;
  packed: number;
  /** Path inside the package (without npm's `package/` prefix) → contents. */
  files: Map<string, Buffer>;
}

/** The regular files of an npm tarball: ustar headers, with pax records for names longer than 100 bytes. */
function readTarball(file: string): Tarball {
  const packed = readFileSync(file);
  const tar = gunzipSync(packed);
  const files = new Map<string, Buffer>();
  let paxPath: string | undefined;
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start: number, length: number) => header.subarray(start, start + length).toString("utf8").replace(/\0[^]*$/, "");
    const size = Number.parseInt(field(124, 12).trim() || "0", 8);
    const type = field(156, 1);
    const body = tar.subarray(offset + 512, offset + 512 + size);
    if (type === "x") {
      paxPath = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString("utf8"))?.[1];
    } else {
      if (type === "0" || type === "") {
        const path = paxPath ?? [field(345, 155), field(0, 100)].filter((part) => part !== "").join("/");
        files.set(path.replace(/^package\//, ""), Buffer.from(body));
      }
      paxPath = undefined;
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return { file, packed: packed.length, files };
}

const manifestOf = (tarball: Tarball): Record<string, unknown> => JSON.parse(tarball.files.get("package.json")?.toString("utf8") ?? "{}") as Record<string, unknown>;

/** Every path a package.json field names (exports with its conditions, bin, main, types). */
function targets(value: unknown): string[] {
  if (typeof value === "string") return [posix.normalize(value)];
  if (value !== null && typeof value === "object") return Object.values(value).flatMap(targets);
  return [];
}

const RELATIVE = [
  /\bfrom\s*["'](\.{1,2}\/[^"']+)["']/g,
  /\bimport\s*\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g,
  /\bimport\s*["'](\.{1,2}\/[^"']+)["']/g,
  /\bnew URL\(\s*["'](\.{1,2}\/[^"']+)["']\s*,\s*import\.meta\.url\s*\)/g,
  // dist/reftrack.js loads the full tracker from beside itself, by its content-hashed name.
  /["'](reftrack\.[0-9a-f]{12}\.js)["']/g,
];

/** The entries and every file they reach through relative imports, in the tarball or not (a missing one is listed). */
function reachable(entries: string[], files: Map<string, Buffer>): Set<string> {
  const seen = new Set<string>();
  const queue = [...entries];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const text = files.get(file)?.toString("utf8") ?? "";
    for (const pattern of RELATIVE) {
      for (const [, specifier] of text.matchAll(pattern)) {
        if (specifier === undefined) continue;
        const target = posix.normalize(posix.join(posix.dirname(file), specifier));
        // A declaration file names its neighbour by the .js it describes.
        queue.push(file.endsWith(".d.ts") ? target.replace(/\.js$/, ".d.ts") : target);
      }
    }
  }
  return seen;
}

const BARE = [/\bfrom\s*["']([^"'./][^"']*)["']/g, /\bimport\s*\(\s*["']([^"'./][^"']*)["']\s*\)/g, /\bimport\s*["']([^"'./][^"']*)["']/g];

/** The packages the ESM files of a tarball import (Node's built-ins aside). */
function importedPackages(tarball: Tarball): string[] {
  const names = new Set<string>();
  for (const [path, contents] of tarball.files) {
    // dist/reftrack.js and the tracker it loads are self-contained IIFEs: they import nothing, and their minified text
    // has no statements to scan.
    if (!path.endsWith(".js") || /^dist\/reftrack(\.[0-9a-f]{12})?\.js$/.test(path)) continue;
    for (const pattern of BARE) {
      for (const [, specifier] of contents.toString("utf8").matchAll(pattern)) {
        if (specifier === undefined || specifier.startsWith("node:")) continue;
        const parts = specifier.split("/");
        names.add((specifier.startsWith("@") ? parts.slice(0, 2) : parts.slice(0, 1)).join("/"));
      }
    }
  }
  return [...names].sort();
}

// --- Reading an install ----------------------------------------------------------------------------------------

/** Every package under node_modules, nested ones included, by name. */
function installedPackages(nodeModules: string): string[] {
  const names: string[] = [];
  for (const entry of readdirSync(nodeModules, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || !entry.isDirectory()) continue;
    const dirs = entry.name.startsWith("@") ? readdirSync(join(nodeModules, entry.name)).map((name) => `${entry.name}/${name}`) : [entry.name];
    for (const name of dirs) {
      names.push(name);
      const nested = join(nodeModules, name, "node_modules");
      try {
        names.push(...installedPackages(nested));
      } catch {
        // No nested node_modules: the usual case.
      }
    }
  }
  return names.sort();
}

/** Compiled addons (`.node` files) anywhere below `dir`. */
const addonsUnder = (dir: string): string[] => readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((path) => path.endsWith(".node"));

/** An empty project, made the way a user makes one. */
async function freshProject(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await run("npm", ["init", "-y"], dir);
}

// --- The tests -----------------------------------------------------------------------------------------------------

describe("the npm packages, from a fresh checkout to a running install", () => {
  let work = "";
  let reftrack: Tarball;
  let collector: Tarball;
  let collectorFromItsFolder: Tarball;

  const packInto = async (cwd: string, dest: string, args: string[] = []): Promise<Tarball> => {
    mkdirSync(dest, { recursive: true });
    const ran = await run("npm", ["pack", ...args, "--pack-destination", dest], cwd);
    const [name, ...more] = readdirSync(dest).filter((file) => file.endsWith(".tgz"));
    if (name === undefined || more.length > 0) throw new Error(`expected one tarball in ${dest}:\n${ran.output}`);
    console.log(`${["npm pack", ...args].join(" ")} in ${relative(work, cwd)}: ${seconds(ran.ms)}, build included`);
    return readTarball(join(dest, name));
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "reftrack-pack-"));
    const checkout = join(work, "checkout");
    const skipped = new Set([".git", "node_modules", "dist", ".build", "test-results", "playwright-report", "packages/collector/dist", "packages/collector/node_modules"]);
    cpSync(ROOT, checkout, { recursive: true, filter: (source) => !skipped.has(relative(ROOT, source)) && !/\.db(-\w+)?$/.test(source) });
    // The development dependencies as `npm ci` left them: what a fresh clone has before its first build.
    symlinkSync(join(ROOT, "node_modules"), join(checkout, "node_modules"), "dir");

    reftrack = await packInto(checkout, join(work, "packed/reftrack"));
    const removeBuilds = () => ["dist", "packages/collector/dist", ".build"].forEach((dir) => rmSync(join(checkout, dir), { recursive: true, force: true }));
    removeBuilds();
    collector = await packInto(checkout, join(work, "packed/collector"), ["-w", "reftrack-collector"]);
    removeBuilds();
    collectorFromItsFolder = await packInto(join(checkout, "packages/collector"), join(work, "packed/collector-folder"));
  });

  afterAll(() => {
    if (work !== "") rmSync(work, { recursive: true, force: true });
  });

  it("each tarball holds exactly what its exports and bin reach, with package.json and README.md", () => {
    for (const tarball of [reftrack, collector]) {
      const manifest = manifestOf(tarball);
      const entries = [...targets(manifest.exports), ...targets(manifest.bin), ...targets(manifest.main), ...targets(manifest.types)];
      const expected = [...reachable(entries, tarball.files), "package.json", "README.md"].sort();
      const actual = [...tarball.files.keys()].sort();
      const unpacked = [...tarball.files.values()].reduce((sum, contents) => sum + contents.length, 0);
      console.log(`${posix.basename(tarball.file)}: ${tarball.packed} B packed, ${unpacked} B unpacked, ${actual.length} files`);
      for (const path of actual) console.log(`  ${String(tarball.files.get(path)?.length).padStart(7)} B  ${path}`);
      expect(actual, `${manifest.name}`).toEqual(expected);
    }
    // The ESM entries really do share chunks, so the check above followed imports rather than only listing entries.
    expect([...reftrack.files.keys()].some((path) => /^dist\/chunk-[\w-]+\.js$/.test(path))).toBe(true);
    expect(manifestOf(collector).version).toBe(manifestOf(reftrack).version);
  });

  it("`npm pack` in packages/collector makes the same tarball as `npm pack -w reftrack-collector`", () => {
    const listing = (tarball: Tarball) => [...tarball.files].map(([path, contents]) => `${path} ${createHash("sha256").update(contents).digest("hex")}`).sort();
    expect(listing(collectorFromItsFolder)).toEqual(listing(collector));
  });

  it("each package depends on exactly the packages its code imports (and its pins)", () => {
    for (const tarball of [reftrack, collector]) {
      const manifest = manifestOf(tarball);
      const name = String(manifest.name);
      const dependencies = Object.keys((manifest.dependencies ?? {}) as Record<string, string>).sort();
      expect(dependencies, name).toEqual([...importedPackages(tarball), ...(PINS[name] ?? [])].sort());
    }
    expect(Object.keys((manifestOf(reftrack).dependencies ?? {}) as Record<string, string>).sort()).toEqual(["idb-keyval", "superstruct"]);
  });

  it("reftrack installs into an empty project with its two dependencies, compiles nothing, and imports in Node and TypeScript", async () => {
    const site = join(work, "site");
    await freshProject(site);
    const install = await run("npm", ["install", reftrack.file, "--prefer-offline", "--no-audit", "--no-fund"], site);
    console.log(`npm install reftrack: ${seconds(install.ms)}`);
    expect(install.output).not.toMatch(/EBADENGINE|install-scripts/);
    expect(installedPackages(join(site, "node_modules"))).toEqual(["idb-keyval", "reftrack", "superstruct"]);
    expect(addonsUnder(join(site, "node_modules"))).toEqual([]);

    writeFileSync(
      join(site, "check.mjs"),
      `import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
const tracker = await import("reftrack");
const schema = await import("reftrack/schema");
const server = await import("reftrack/server");
const file = (specifier) => readFileSync(new URL(import.meta.resolve(specifier)));
const sha384 = (specifier) => "sha384-" + createHash("sha384").update(file(specifier)).digest("base64");
const integrity = JSON.parse(file("reftrack/integrity.json").toString());
const checker = schema.compileSchema({ events: { signed_up: { properties: { plan: { type: "string", enum: ["free", "pro"], required: true } } } } });
const cookie = "reftrack_ref=" + ["NRY-01", "ref", "2026-01-01T00:00:00.000Z", "2026-01-31T00:00:00.000Z"].map(encodeURIComponent).join("|");
console.log(JSON.stringify({
  createTracker: typeof tracker.createTracker,
  valid: checker.check({ event: "signed_up", metadata: { plan: "pro" }, identified: false }).ok,
  invalid: checker.check({ event: "signed_up", metadata: { plan: "gold" }, identified: false }),
  referral: server.readReferral("theme=dark; " + cookie, { now: Date.parse("2026-01-02T00:00:00.000Z") }),
  createServerClient: typeof server.createServerClient,
  oneValidationError: schema.ValidationError === server.ValidationError,
  bundleIntegrity: integrity["reftrack.js"] === sha384("reftrack/reftrack.js"),
  stubIntegrity: integrity["stub.js"] === sha384("reftrack/stub.js"),
}));
`,
    );
    const checked = JSON.parse((await run(process.execPath, ["check.mjs"], site)).output) as Record<string, unknown>;
    expect(checked).toMatchObject({
      createTracker: "function",
      valid: true,
      invalid: { ok: false, issues: [expect.objectContaining({ path: "metadata.plan" })] },
      referral: { code: "NRY-01", captured_at: "2026-01-01T00:00:00.000Z", expires_at: "2026-01-31T00:00:00.000Z" },
      createServerClient: "function",
      oneValidationError: true,
      bundleIntegrity: true,
      stubIntegrity: true,
    });

    // The `types` conditions name declaration files that exist and reach every file they import: strict, and
    // checking the package's own .d.ts files (no skipLibCheck).
    writeFileSync(
      join(site, "check-types.mts"),
      `import { createTracker, type TrackerOptions } from "reftrack";
import { compileSchema, defineSchema, type SchemaDocument } from "reftrack/schema";
import { createServerClient, readReferral, type ServerReferral } from "reftrack/server";
const schema = defineSchema({ events: { share_social: { properties: { network: { type: "string", enum: ["x", "linkedin"] } } } } });
const document: SchemaDocument = schema;
const options: TrackerOptions = { endpoint: "https://collect.example.com/v1/batch" };
export const made: [typeof createTracker, TrackerOptions, typeof createServerClient] = [createTracker, options, createServerClient];
export const referral: ServerReferral | null = readReferral("reftrack_ref=x");
export const events: readonly string[] | null = compileSchema(document).events;
`,
    );
    writeFileSync(
      join(site, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2022", "dom"], types: [], strict: true, skipLibCheck: false, noEmit: true }, files: ["check-types.mts"] }),
    );
    await run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", site], site);
  });

  it("reftrack-collector installs (better-sqlite3 compiled, no engine warning on this Node), starts and answers /healthz", { timeout: 600_000 }, async () => {
    const site = join(work, "collector-site");
    await freshProject(site);
    // What the collector's README asks for before installing: npm 11 runs a dependency's install script only with a
    // notice unless the project approves it, and better-sqlite3 needs its script to compile SQLite.
    await run("npm", ["pkg", "set", "allowScripts.better-sqlite3=true", "--json"], site);
    const install = await run("npm", ["install", collector.file, "--prefer-offline", "--no-audit", "--no-fund"], site, 570_000);
    console.log(`npm install reftrack-collector (better-sqlite3 compiled from source): ${seconds(install.ms)}`);
    expect(install.output).not.toMatch(/EBADENGINE|install-scripts/);
    const installed = installedPackages(join(site, "node_modules"));
    expect(installed).toEqual(expect.arrayContaining(["reftrack-collector", "fastify", "better-sqlite3"]));
    expect(installed).not.toContain("reftrack");
    expect(addonsUnder(join(site, "node_modules/better-sqlite3")).some((path) => path.endsWith("better_sqlite3.node"))).toBe(true);
    console.log(`  ${installed.length} packages installed`);

    const started = performance.now();
    const child = spawn(join(site, "node_modules/.bin/reftrack-collector"), ["--port", "0", "--db", join(site, "x.db")], { cwd: site, env: userEnv, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the collector did not start:\n${output}`)), 20_000);
        child.stdout.on("data", (chunk: Buffer) => {
          output += chunk.toString();
          const match = /listening on (http:\/\/\S+)/.exec(output);
          if (match?.[1] !== undefined) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        });
        child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
        void exited.then((code) => reject(new Error(`the collector exited with ${code}:\n${output}`)));
      });
      console.log(`reftrack-collector listening after ${seconds(performance.now() - started)}`);
      const response = await fetch(`${url}/healthz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ ok: true });
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  });
});
