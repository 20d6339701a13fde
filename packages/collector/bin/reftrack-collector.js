#!/usr/bin/env node
// The `reftrack-collector` command. A file of its own, kept in git, rather than a bin pointing at dist/collector.js:
// npm links a workspace's bin into node_modules/.bin only if the file exists when it installs, and on a fresh clone
// `npm ci` runs before the first build. Without the link, `npx reftrack-collector` at the repository root would
// fetch whatever the registry holds under that name instead of running this one.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/collector.js", import.meta.url);
if (existsSync(bundle)) {
  await import(bundle.href);
} else {
  // Only in a checkout: the published package always carries dist/collector.js (its prepack builds it).
  console.error("reftrack-collector: dist/collector.js is not built yet; run `npm run build` at the repository root.");
  process.exitCode = 1;
}
