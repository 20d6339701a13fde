// Builds the browser bundle, the npm entries with their types, and the demo server; prints every output's size.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const define = { __REFTRACK_VERSION__: JSON.stringify(pkg.version) };
// Browsers of the last three years (late 2023 on).
const browsers = ["chrome119", "edge119", "firefox120", "safari17"];

const outputs = [];
const bundle = async (options) => {
  await build({ bundle: true, define, logLevel: "warning", legalComments: "none", ...options });
  outputs.push(...(options.entryPoints.length > 1 ? options.entryPoints.map((entry) => `${options.outdir}/${entry.split("/").pop().replace(".ts", ".js")}`) : [options.outfile]));
};

mkdirSync("dist", { recursive: true });
await bundle({ entryPoints: ["src/browser.ts"], outfile: "dist/reftrack.js", format: "iife", minify: true, target: browsers, platform: "browser" });
await bundle({ entryPoints: ["src/index.ts", "src/schema.ts"], outdir: "dist", format: "esm", target: "es2022", packages: "external", splitting: true, platform: "neutral" });
await bundle({ entryPoints: ["src/collector/cli.ts"], outfile: "dist/collector.js", format: "esm", platform: "node", target: "node20", packages: "external", banner: { js: "#!/usr/bin/env node" } });
await bundle({ entryPoints: ["demo/server.ts"], outfile: ".build/demo-server.js", format: "esm", platform: "node", target: "node20", packages: "external" });
chmodSync("dist/collector.js", 0o755);
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });

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
console.log(`${"output".padEnd(28)}${pad("raw", 9)}${pad("gzip", 9)}${pad("brotli", 9)}`);
for (const [file, size] of Object.entries(sizes)) {
  console.log(`${file.padEnd(28)}${pad(size.raw, 9)}${pad(size.gzip, 9)}${pad(size.brotli, 9)}`);
}
