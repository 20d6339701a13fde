// What every visitor downloads: dist/reftrack.js raw, gzip and brotli, and which module takes the bytes.
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const result = await build({
  entryPoints: ["src/browser.ts"],
  bundle: true,
  minify: true,
  write: false,
  metafile: true,
  format: "iife",
  legalComments: "none",
  target: ["chrome119", "edge119", "firefox120", "safari17"],
  define: { __REFTRACK_VERSION__: JSON.stringify(pkg.version) },
});
const bundle = result.outputFiles[0].contents;
const gzip = (bytes) => gzipSync(bytes, { level: 9 }).length;
console.log("dist/reftrack.js");
console.log(`  raw     ${bundle.length} B`);
console.log(`  gzip    ${gzip(bundle)} B`);
console.log(`  brotli  ${brotliCompressSync(bundle, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length} B`);
console.log("\nby module: minified bytes in the bundle (gzip works on the whole file and has no per-module split)");
const [output] = Object.values(result.metafile.outputs);
const total = Object.values(output.inputs).reduce((sum, input) => sum + input.bytesInOutput, 0);
for (const [file, { bytesInOutput }] of Object.entries(output.inputs).sort(([, a], [, b]) => b.bytesInOutput - a.bytesInOutput)) {
  console.log(`  ${file.padEnd(44)} ${String(bytesInOutput).padStart(6)} B  ${((100 * bytesInOutput) / total).toFixed(1).padStart(5)} %`);
}
