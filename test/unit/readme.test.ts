// @vitest-environment node
// The README shows values the build computes; this keeps them true. Runs after `npm run build` (npm test's order).
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";

const readme = readFileSync("README.md", "utf8");
const integrity = JSON.parse(readFileSync("dist/integrity.json", "utf8")) as Record<string, string>;

describe("the README", () => {
  it("shows the integrity of the bundle as built", () => {
    const sha384 = `sha384-${createHash("sha384").update(readFileSync("dist/reftrack.js")).digest("base64")}`;
    expect(integrity["reftrack.js"]).toBe(sha384);
    expect(readme).toContain(`integrity="${sha384}"`);
  });

  it("shows the CSP hash of the inline stub it prints, and that stub is the one shipped as dist/stub.js", () => {
    const stub = readFileSync("dist/stub.js", "utf8").trim();
    expect(readme).toContain(`<script>${stub}</script>`);
    expect(readme).toContain(`'sha256-${createHash("sha256").update(stub).digest("base64")}'`);
    expect(integrity.inlineStubCsp).toBe(`'sha256-${createHash("sha256").update(stub).digest("base64")}'`);
  });
});
