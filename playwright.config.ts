import { defineConfig } from "@playwright/test";
import { randomBytes } from "node:crypto";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "./test/browser/chromium.js";

const PORT = Number(process.env.REFTRACK_TEST_PORT ?? 8788);
// The demo server's read token: made once here and inherited by the workers (which load this file again), so the
// tests read what the demo collector holds the way its owner would.
process.env.REFTRACK_READ_TOKEN ??= randomBytes(32).toString("hex");

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
    env: { QUIET: "1", REFTRACK_READ_TOKEN: process.env.REFTRACK_READ_TOKEN },
    reuseExistingServer: false,
    timeout: 20_000,
  },
});
