import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };

export default defineConfig({
  define: { __REFTRACK_VERSION__: JSON.stringify(version) },
  test: {
    include: ["test/unit/**/*.test.ts", "test/collector/**/*.test.ts"],
    testTimeout: 60_000,
    environment: "happy-dom",
    setupFiles: ["test/unit/setup.ts"],
    restoreMocks: true,
  },
});
