import { defineConfig } from "@playwright/test";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "./test/browser/chromium.js";

const PORT = Number(process.env.REFTRACK_TEST_PORT ?? 8788);

export default defineConfig({
  testDir: "test/browser",
  workers: 2,
  timeout: 30_000,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
  },
  webServer: {
    command: `node .build/demo-server.js --port ${PORT}`,
    url: `http://127.0.0.1:${PORT}/healthz`,
    env: { QUIET: "1" },
    reuseExistingServer: false,
    timeout: 20_000,
  },
});
