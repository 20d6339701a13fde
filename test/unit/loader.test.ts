import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { installGlobal, type GlobalReftrack } from "../../src/loader.js";
import type { WireEvent } from "../../src/event.js";
import { setUrl } from "./harness.js";

type StubWindow = Window & { reftrack?: unknown };
const win = window as StubWindow;
const batches: WireEvent[][] = [];

const installStub = () => {
  // The snippet of CONTRACT section 2, as a page pastes it.
  const stub = function (...args: unknown[]) {
    const self = stub as unknown as { q?: unknown[] };
    (self.q = self.q ?? []).push(args);
  };
  win.reftrack = stub;
  return stub as unknown as (...args: unknown[]) => void;
};

const scriptTag = (attributes: Record<string, string>) => {
  const script = document.createElement("script");
  for (const [name, value] of Object.entries(attributes)) script.setAttribute(name, value);
  document.head.append(script);
  return script;
};

const api = () => win.reftrack as GlobalReftrack;

beforeEach(() => {
  setUrl("https://site.example/?ref=NRY-01");
  batches.length = 0;
  delete win.reftrack;
  vi.spyOn(window, "fetch").mockImplementation(async (input, init) => {
    if (init?.method === "POST") {
      batches.push((JSON.parse(String(init.body)) as { batch: WireEvent[] }).batch);
      return new Response("{}");
    }
    return new Response("", { status: 404 });
  });
});
afterEach(() => {
  document.head.innerHTML = "";
});

describe("installGlobal", () => {
  it("replays commands queued before load in order, then works as a function and as methods", async () => {
    const stub = installStub();
    stub("track", "first", { n: 1 });
    stub("identify", { source_id: "u1" });
    stub("track", "second");
    installGlobal(win, scriptTag({ "data-endpoint": "https://collect.example/v1/batch" }));
    const reftrack = api();
    expect(typeof reftrack).toBe("function");
    await reftrack("track", "third");
    await reftrack.track("fourth");
    await reftrack.flush();
    expect(batches.flat().map((event) => [event.event, event.customer.source_id.startsWith("anon_") ? "anon" : event.customer.source_id])).toEqual([
      ["first", "anon"],
      ["second", "u1"],
      ["third", "u1"],
      ["fourth", "u1"],
    ]);
    expect(reftrack.referral()).toMatchObject({ code: "NRY-01" });
  });

  it("reads its settings from the script tag's attributes", async () => {
    setUrl("https://site.example/?partner=P-9&ref=IGNORED");
    installStub();
    installGlobal(win, scriptTag({ "data-endpoint": "https://collect.example/v1/batch", "data-referral-params": "partner", "data-batch-size": "2", "data-clean-url": "true" }));
    api().track("a");
    api().track("b");
    await vi.waitFor(() => expect(batches).toHaveLength(1));
    expect(batches[0]?.map((event) => event.referral)).toEqual([{ code: "P-9" }, { code: "P-9" }]);
    expect(window.location.search).toBe("?ref=IGNORED");
  });

  it("uses an inline schema named by #id", async () => {
    const inline = document.createElement("script");
    inline.type = "application/json";
    inline.id = "events";
    inline.textContent = JSON.stringify({ events: { ok: {} } });
    document.head.append(inline);
    installGlobal(win, scriptTag({ "data-endpoint": "/v1/batch", "data-schema": "#events" }));
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    await expect(api().track("ok")).resolves.toHaveProperty("id");
    await expect(api().track("nope")).rejects.toMatchObject({ issues: [{ path: "event" }] });
  });

  it("reports rejections of queued and global calls instead of leaving them unhandled", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const stub = installStub();
    stub("identify", { email: "bad" });
    installGlobal(win, scriptTag({ "data-endpoint": "/v1/batch" }));
    api()("flush");
    await vi.waitFor(() => expect(warn).toHaveBeenCalledWith("[reftrack]", expect.stringContaining("customer.source_id"), expect.any(Error)));
  });

  it("warns about an unknown command", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    installGlobal(win, scriptTag({ "data-endpoint": "/v1/batch" }));
    expect(api()("trak", "x")).toBeUndefined();
    expect(warn).toHaveBeenCalledWith("[reftrack]", expect.stringContaining('Unknown command "trak"'), expect.any(Error));
  });

  it("without data-endpoint still installs every method, each rejecting with why, once said; nothing throws", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const queued = installStub();
    queued("track", "queued_before_load");
    expect(() => installGlobal(win, scriptTag({}))).not.toThrow();
    expect(error).toHaveBeenCalledTimes(1);
    expect(String(error.mock.calls[0]?.[0])).toMatch(/reftrack did not start: .*endpoint: is required/);
    for (const method of ["track", "identify", "flush", "reset", "consent"] as const) {
      const outcome = await (api()[method] as (...args: unknown[]) => Promise<unknown>)("x").then(
        () => "resolved",
        (reason: Error) => reason.message,
      );
      expect([method, outcome]).toEqual([method, expect.stringContaining("reftrack did not start")]);
    }
    expect(api().referral()).toBeNull();
    // The reason was said once; the page's calls do not repeat it.
    expect(warn).not.toHaveBeenCalled();
    expect(() => installGlobal(win, null)).not.toThrow();
  });

  it("keeps the first copy in charge when the script is loaded twice, and says so, naming both endpoints", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    installGlobal(win, scriptTag({ "data-endpoint": "/v1/batch" }));
    const first = api();
    installGlobal(win, scriptTag({ "data-endpoint": "/other" }));
    expect(api()).toBe(first);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/second reftrack\.js \(data-endpoint="\/other"\) was ignored; the first \(data-endpoint="\/v1\/batch"\) stays in charge/));
  });
});

describe("settings messages", () => {
  it("name the attribute, what it takes, what it got and the default used", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    installGlobal(win, scriptTag({ "data-endpoint": "/v1/batch", "data-batch-size": "lots", "data-attribution": "middle", "data-clean-url": "yes" }));
    const message = String(warn.mock.calls[0]?.[1]);
    expect(message).toContain('data-batch-size: must be a whole number from 1 to 500, got "lots"; using 20');
    expect(message).toContain('data-attribution: must be "first" or "last", got "middle"; using "last"');
    expect(message).toContain('data-clean-url: must be "true" or "false", got "yes"; using false');
    expect(typeof api().version).toBe("string");
  });
});
