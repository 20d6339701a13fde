import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// `npm run test:package`, apart from the unit tests and after them in `npm test`: it compiles better-sqlite3 (a
// minute or more of every core), which beside the collector's timing-sensitive process tests would starve them.
export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["test/package/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 300_000,
  },
});
