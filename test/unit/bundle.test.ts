// @vitest-environment node
// The browser files as built (runs after `npm run build`, like readme.test.ts): what a page receives.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const files = Object.keys(JSON.parse(readFileSync("dist/integrity.json", "utf8")) as Record<string, string>).filter((name) => name.endsWith(".js"));

describe("the browser files", () => {
  it.each(files)("%s is ASCII only: a page that serves it without a charset reads every message right", (name) => {
    const bytes = readFileSync(`dist/${name}`);
    expect(bytes.findIndex((byte) => byte > 0x7f)).toBe(-1);
  });
});
