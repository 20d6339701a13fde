// What visitors download: both browser files as `node build.mjs` wrote them (raw, gzip, brotli), and which module
// takes the bytes of each.
import { build } from "esbuild";
import { readdirSync, readFileSync } from "node:fs";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";
import { browserBuild } from "../browser-build.mjs";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const fullFile = readdirSync("dist").find((file) => /^reftrack\.[0-9a-f]{12}\.js$/.test(file));
const files = [
  ["dist/reftrack.js", "src/browser.ts", "the first file, every page view"],
  [`dist/${fullFile}`, "src/full.ts", "the tracker, when a page first tracks"],
];
for (const [built, entry, role] of files) {
  const bytes = readFileSync(built);
  console.log(`${built} (${role})`);
  console.log(`  raw     ${bytes.length} B`);
  console.log(`  gzip    ${gzipSync(bytes, { level: 9 }).length} B`);
  console.log(`  brotli  ${brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length} B`);
  // The split by module is esbuild's, before terser renames across modules: shares, not the shipped bytes.
  const result = await build({
    ...browserBuild,
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    define: { __REFTRACK_VERSION__: JSON.stringify(pkg.version), __REFTRACK_FULL_FILE__: '"reftrack.000000000000.js"', __REFTRACK_FULL_INTEGRITY__: `"sha384-${"0".repeat(64)}"` },
  });
  const [output] = Object.values(result.metafile.outputs);
  const total = Object.values(output.inputs).reduce((sum, input) => sum + input.bytesInOutput, 0);
  console.log("  by module: share of esbuild's minified output (gzip works on the whole file and has no per-module split)");
  for (const [file, { bytesInOutput }] of Object.entries(output.inputs).sort(([, a], [, b]) => b.bytesInOutput - a.bytesInOutput)) {
    console.log(`    ${file.padEnd(44)} ${String(bytesInOutput).padStart(6)} B  ${((100 * bytesInOutput) / total).toFixed(1).padStart(5)} %`);
  }
  console.log();
}
