// Builds the browser bundle, the npm entries with their types, and the demo server; prints every output's size.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";
import { createHash } from "node:crypto";
import { dirname, resolve } from "node:path";
import { browserBuild, finishBrowserFile } from "./browser-build.mjs";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const define = { __REFTRACK_VERSION__: JSON.stringify(pkg.version) };

const outputs = [];
const bundle = async (options) => {
  await build({ bundle: true, define, logLevel: "warning", legalComments: "none", ...options });
  outputs.push(...(options.entryPoints.length > 1 ? options.entryPoints.map((entry) => `${options.outdir}/${entry.split("/").pop().replace(".ts", ".js")}`) : [options.outfile]));
};

// Emptied first: `files` in package.json takes every dist/chunk-*.js, and a chunk of an older build (its name is a
// content hash) would otherwise ship beside the current one.
const collectorDist = "packages/collector/dist";
for (const dir of ["dist", collectorDist]) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}
// The browser: the full tracker first, in a file named by its content, then the small first file that every page
// view runs and that loads the full one, pinned by its sha384, when the page first tracks.
await bundle({ entryPoints: ["src/full.ts"], outfile: ".build/reftrack-full.js", ...browserBuild });
// Both minified once more, with V8's compile hint first (browser-build.mjs says why).
const finish = async (file) => writeFileSync(file, await finishBrowserFile(readFileSync(file, "utf8")));
await finish(".build/reftrack-full.js");
const fullSource = readFileSync(".build/reftrack-full.js");
const fullFile = `reftrack.${createHash("sha256").update(fullSource).digest("hex").slice(0, 12)}.js`;
writeFileSync(`dist/${fullFile}`, fullSource);
outputs.splice(outputs.indexOf(".build/reftrack-full.js"), 1, `dist/${fullFile}`);
const fullIntegrity = `sha384-${createHash("sha384").update(fullSource).digest("base64")}`;
await bundle({
  entryPoints: ["src/browser.ts"],
  outfile: "dist/reftrack.js",
  ...browserBuild,
  define: { ...define, __REFTRACK_FULL_FILE__: JSON.stringify(fullFile), __REFTRACK_FULL_INTEGRITY__: JSON.stringify(fullIntegrity) },
});
await finish("dist/reftrack.js");
await bundle({ entryPoints: ["src/index.ts", "src/schema.ts"], outdir: "dist", format: "esm", target: "es2022", packages: "external", splitting: true, platform: "neutral" });
// reftrack/server for the site's own server (Node). It takes the schema module from dist/schema.js instead of a copy of
// its own: one ValidationError class, so `instanceof` holds whichever entry a site imported it from.
const sharedSchema = {
  name: "shared-schema",
  setup(build) {
    build.onResolve({ filter: /\/schema\.js$/ }, (args) => (resolve(args.resolveDir, args.path) === resolve("src/schema.js") ? { path: "./schema.js", external: true } : undefined));
  },
};
await bundle({ entryPoints: ["src/server.ts"], outfile: "dist/server.js", format: "esm", platform: "node", target: "node20", packages: "external", plugins: [sharedSchema] });
// reftrack-collector is its own package (packages/collector), so that installing reftrack compiles no SQLite.
await bundle({ entryPoints: ["src/collector/cli.ts"], outfile: `${collectorDist}/collector.js`, format: "esm", platform: "node", target: "node20", packages: "external", banner: { js: "#!/usr/bin/env node" } });
await bundle({ entryPoints: ["demo/server.ts"], outfile: ".build/demo-server.js", format: "esm", platform: "node", target: "node20", packages: "external" });
chmodSync(`${collectorDist}/collector.js`, 0o755);
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
// tsc declares every module of the program, but the `types` conditions reach only the modules their types mention;
// the others (elements.d.ts, cookie.d.ts, …) would ship in the package unread, so they go.
const declarations = new Set();
const pending = Object.values(pkg.exports).flatMap((target) => (typeof target === "object" && target.types ? [resolve(target.types)] : []));
for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
  if (declarations.has(file)) continue;
  declarations.add(file);
  for (const [, specifier] of readFileSync(file, "utf8").matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)"(\.{1,2}\/[^"]+)\.js"/g)) {
    pending.push(resolve(dirname(file), `${specifier}.d.ts`));
  }
}
for (const file of readdirSync("dist/types", { recursive: true, encoding: "utf8" })) {
  if (file.endsWith(".d.ts") && !declarations.has(resolve("dist/types", file))) rmSync(resolve("dist/types", file));
}

// The stub of CONTRACT section 2 as a file, for pages whose CSP allows only 'self' scripts; and the hashes a CSP and
// an integrity attribute need. The inline form hashes the exact text between <script> and </script> in the README.
const stub = readFileSync("src/stub.js", "utf8").trim();
writeFileSync("dist/stub.js", `${stub}\n`);
const digest = (algorithm, text) => `${algorithm}-${createHash(algorithm).update(text).digest("base64")}`;
const integrity = {
  "reftrack.js": digest("sha384", readFileSync("dist/reftrack.js")),
  [fullFile]: fullIntegrity,
  "stub.js": digest("sha384", readFileSync("dist/stub.js")),
  inlineStubCsp: `'${digest("sha256", stub)}'`,
};
writeFileSync("dist/integrity.json", `${JSON.stringify(integrity, null, 2)}\n`);
// `node build.mjs --update-readme` writes the new values into the README's snippets (test/unit/readme.test.ts checks).
if (process.argv.includes("--update-readme")) {
  const readme = readFileSync("README.md", "utf8")
    .replace(/integrity="sha384-[A-Za-z0-9+/=]+"/, `integrity="${integrity["reftrack.js"]}"`)
    .replace(/'sha256-[A-Za-z0-9+/=]+'/g, integrity.inlineStubCsp);
  writeFileSync("README.md", readme);
}

const sizes = {};
for (const file of outputs) {
  const source = readFileSync(file);
  sizes[file] = {
    raw: source.length,
    gzip: gzipSync(source, { level: 9 }).length,
    brotli: brotliCompressSync(source, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}
writeFileSync(".build/sizes.json", JSON.stringify(sizes, null, 2));
const pad = (value, width) => String(value).padStart(width);
console.log(`${"output".padEnd(38)}${pad("raw", 9)}${pad("gzip", 9)}${pad("brotli", 9)}`);
for (const [file, size] of Object.entries(sizes)) {
  console.log(`${file.padEnd(38)}${pad(size.raw, 9)}${pad(size.gzip, 9)}${pad(size.brotli, 9)}`);
}
console.log(`\nintegrity of dist/reftrack.js   ${integrity["reftrack.js"]}`);
console.log(`CSP hash of the inline stub    ${integrity.inlineStubCsp}`);
