// `npm run bench`: every benchmark in bench/, one after another, each printing figures a reader can compare over time.
import { execFileSync } from "node:child_process";

for (const script of ["bench/size.mjs"]) {
  console.log(`\n## ${script}\n`);
  execFileSync(process.execPath, [script], { stdio: "inherit" });
}
