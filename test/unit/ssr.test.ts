// @vitest-environment node
// Server-side rendering imports reftrack and may call createTracker: no browser globals there, and nothing may throw.
import { describe, expect, it, vi } from "vitest";

describe("outside a browser", () => {
  it("importing touches no browser global; createTracker returns a tracker whose methods resolve and send nothing; one warning", async () => {
    expect(typeof (globalThis as { window?: unknown }).window).toBe("undefined");
    const fetch = vi.spyOn(globalThis, "fetch");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const { createTracker, defineSchema } = await import("../../src/index.js");
    const schema = defineSchema({ events: { share_social: { properties: { network: { type: "string" } } } } });
    const first = createTracker({ endpoint: "https://collect.example/v1/batch", schema });
    const second = createTracker({ endpoint: "https://collect.example/v1/batch" });
    await expect(first.track("share_social", { network: "x" })).resolves.toEqual({ id: "" });
    await expect(first.identify({ source_id: "alex@domain.io" })).resolves.toBeUndefined();
    await expect(Promise.all([first.flush(), first.reset(), first.consent(true), second.flush()])).resolves.toBeDefined();
    expect(first.referral()).toBeNull();
    expect(() => first.destroy()).not.toThrow();
    expect(fetch).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain("outside a browser");
  });
});
