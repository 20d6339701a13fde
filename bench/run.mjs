// `npm run bench`: every benchmark in bench/, one after another, each printing figures a reader can compare over time.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";

for (const name of ["landing", "compile", "delivery", "collector"]) {
  await build({ entryPoints: [`bench/${name}.ts`], outfile: `.build/bench-${name}.js`, bundle: true, platform: "node", format: "esm", packages: "external", logLevel: "warning" });
}
for (const script of ["bench/size.mjs", "bench/shared-modules.mjs", ".build/bench-landing.js", ".build/bench-compile.js", ".build/bench-delivery.js", ".build/bench-collector.js"]) {
  console.log(`\n## ${script.replace(".build/bench-", "bench/").replace(/\.js$/, ".ts")}\n`);
  // `npm run bench -- --update-readme` passes the flag on: the page-view bench rewrites the README's table.
  execFileSync(process.execPath, [script, ...process.argv.slice(2)], { stdio: "inherit" });
}
