import { defineConfig } from "@playwright/test";

// Debian's Chromium, never a downloaded browser (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 in .ci/run).
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const PORT = Number(process.env.REFTRACK_TEST_PORT ?? 8788);

export default defineConfig({
  testDir: "test/browser",
  workers: 2,
  timeout: 30_000,
  reporter: process.env.CI ? [["list"]] : [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    launchOptions: {
      executablePath,
      // As root on a closed network: no sandbox, and none of Chromium's own background connections.
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    },
  },
  webServer: {
    command: `node .build/demo-server.js --port ${PORT}`,
    url: `http://127.0.0.1:${PORT}/healthz`,
    env: { QUIET: "1" },
    reuseExistingServer: false,
    timeout: 20_000,
  },
});
