// The delivery policy under fake timers: what leaves when, what stays, and what onError hears.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { localLock, type SendLock } from "../../src/lock.js";
import { memoryOutbox, overflow, type Outbox, type OutboxKey } from "../../src/outbox.js";
import { createSender, memorySendState, type SenderOptions } from "../../src/sender.js";
import { batchLength, byteLength, classifyStatus, collectorDestination, MAX_BODY_BYTES, paceWait, parseRetryAfter, retryDelay, voucherifyDestination } from "../../src/transport.js";
import type { WireEvent } from "../../src/event.js";

const event = (n: number, padding = 0): WireEvent => ({ id: `id-${n}`, event: "e", metadata: { n, pad: "x".repeat(padding) } }) as unknown as WireEvent;
const item = (n: number, padding = 0) => {
  const built = event(n, padding);
  return { event: built, bytes: byteLength(JSON.stringify(built)) };
};

interface Answer {
  status: number;
  retryAfter?: string;
  /** The answer's body ("{}" when not given); a function gets the ids the request carried. */
  body?: string | ((ids: string[]) => string);
}

function setup(answers: Answer[] = [], overrides: Partial<SenderOptions> = {}) {
  const requests: { at: number; ids: string[]; keepalive: boolean; bytes: number; body: unknown; headers: HeadersInit | undefined }[] = [];
  const errors: string[] = [];
  const raised: Error[] = [];
  const logs: string[] = [];
  const dropped: number[] = [];
  const outbox: Outbox = overrides.outbox ?? memoryOutbox({ maxEvents: 1000, maxBytes: 1_000_000, onDropped: (count) => dropped.push(count) });
  const fetch = vi.fn(async (_url: RequestInfo | URL, init: RequestInit = {}) => {
    const body = String(init.body);
    const parsed = JSON.parse(body) as { batch?: WireEvent[]; metadata?: { n: number } };
    const ids = parsed.batch ? parsed.batch.map((sent) => sent.id) : [`id-${parsed.metadata?.n}`];
    requests.push({ at: Date.now(), ids, keepalive: init.keepalive === true, bytes: byteLength(body), body: parsed, headers: init.headers });
    const answer = answers.shift() ?? { status: 200 };
    if (answer.status === 0) throw new TypeError("Failed to fetch");
    const answerBody = typeof answer.body === "function" ? answer.body(ids) : (answer.body ?? "{}");
    return new Response(answerBody, { status: answer.status, headers: answer.retryAfter ? { "Retry-After": answer.retryAfter } : {} });
  });
  let online = true;
  const sender = createSender({
    destination: collectorDestination("https://collect.example/v1/batch"),
    batchSize: 20,
    flushMs: 2000,
    outbox,
    lock: localLock(),
    tabId: "tab",
    fetch: fetch as unknown as typeof globalThis.fetch,
    sendBeacon: null,
    maySend: () => online,
    now: Date.now,
    random: () => 0.5,
    setTimeout: (callback, ms) => setTimeout(callback, ms),
    clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    onError: (error) => {
      errors.push(error.message);
      raised.push(error);
    },
    log: (message) => void logs.push(message),
    ...overrides,
  });
  /** Enqueues and lets the tick pass in which the outbox write happens (a 0 ms timer, fake here). */
  const put = async (items: { event: WireEvent; bytes: number }[]) => {
    const written = sender.enqueue(items);
    await vi.advanceTimersByTimeAsync(0);
    await written;
  };
  return { sender, put, outbox, requests, errors, raised, logs, dropped, setOnline: (value: boolean) => (online = value) };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(Date.parse("2026-11-26T10:00:00Z"));
});
afterEach(() => vi.useRealTimers());

describe("the retry policy", () => {
  it.each([
    [200, "delivered"],
    [204, "delivered"],
    [400, "rejected"],
    [422, "rejected"],
    [404, "retry"],
    [409, "retry"],
    [413, "split"],
    [401, "stop"],
    [403, "stop"],
    [0, "retry"],
    [408, "retry"],
    [429, "retry"],
    [500, "retry"],
    [503, "retry"],
  ])("HTTP %i → %s", (status, delivery) => expect(classifyStatus(status)).toBe(delivery));

  it("backs off exponentially with full jitter, from 1 s up to a 5 minute cap", () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelay(attempt, null, () => 0.999))).toEqual([999, 1998, 3996, 7992]);
    expect(retryDelay(30, null, () => 0.999)).toBe(299_700);
    expect(retryDelay(3, null, () => 0.25)).toBe(1000);
    expect(retryDelay(1, null, () => 0)).toBe(100); // the floor: never a busy loop
  });

  it("lets Retry-After win, in seconds or as an HTTP date", () => {
    const now = Date.parse("2026-11-26T10:00:00Z");
    expect(parseRetryAfter("7", now)).toBe(7000);
    expect(parseRetryAfter("Thu, 26 Nov 2026 10:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Thu, 26 Nov 2026 09:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(retryDelay(5, 7000, () => 0.999)).toBe(7000);
  });
});

describe("batches", () => {
  it("packs at most batchSize events and never a body over 64 KB", () => {
    expect(batchLength([100, 100, 100], 2)).toBe(2);
    expect(batchLength(Array.from({ length: 10 }, () => 20_000), 20)).toBe(3);
    expect(batchLength([70_000], 20)).toBe(1);
  });

  it("splits large events across requests of at most 64 KB", async () => {
    const { sender, put, requests } = setup();
    await put(Array.from({ length: 10 }, (_, n) => item(n, 15_000)));
    await sender.flush();
    expect(requests.flatMap((request) => request.ids)).toHaveLength(10);
    expect(requests.length).toBeGreaterThan(1);
    for (const request of requests) expect(request.bytes).toBeLessThanOrEqual(MAX_BODY_BYTES);
  });

  it("writes events of one tick in one transaction, keeping their order", async () => {
    const { sender, put, outbox, requests } = setup();
    const add = vi.spyOn(outbox, "add");
    const written = [sender.enqueue([item(1)]), sender.enqueue([item(2)]), sender.enqueue([item(3)])];
    await vi.advanceTimersByTimeAsync(0);
    await Promise.all(written);
    expect(add).toHaveBeenCalledTimes(1);
    await sender.flush();
    expect(requests.map((request) => request.ids)).toEqual([["id-1", "id-2", "id-3"]]);
  });

  it("flushes at batchSize without waiting for flushMs, and after flushMs otherwise", async () => {
    const { sender, put, requests } = setup([], { batchSize: 3 });
    const tick = [1, 2, 3].map((n) => sender.enqueue([item(n)]));
    await vi.advanceTimersByTimeAsync(0);
    await Promise.all(tick);
    expect(requests.map((request) => request.ids)).toEqual([["id-1", "id-2", "id-3"]]);
    await put([item(4)]);
    await vi.advanceTimersByTimeAsync(1999);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests.map((request) => request.ids)).toEqual([["id-1", "id-2", "id-3"], ["id-4"]]);
  });

  it("sends everything that waits once a flush starts, in batches", async () => {
    const { sender, requests } = setup([], { batchSize: 3 });
    const tick = [1, 2, 3, 4, 5, 6, 7].map((n) => sender.enqueue([item(n)]));
    await vi.advanceTimersByTimeAsync(0);
    await Promise.all(tick);
    expect(requests.map((request) => request.ids.length)).toEqual([3, 3, 1]);
  });
});

describe("delivery", () => {
  it("removes delivered events from the outbox", async () => {
    const { sender, put, outbox } = setup();
    await put([item(1), item(2)]);
    await sender.flush();
    expect(await outbox.count()).toBe(0);
  });

  it("drops a 400/422 batch and tells onError how many events", async () => {
    const { sender, put, outbox, errors, requests } = setup([{ status: 422 }]);
    await put([item(1), item(2)]);
    await sender.flush();
    expect(await outbox.count()).toBe(0);
    expect(errors).toEqual([expect.stringContaining("2 event(s) refused with HTTP 422")]);
    await sender.flush();
    expect(requests).toHaveLength(1);
  });

  it("keeps a 503 batch, waits out the backoff without sending, then delivers it", async () => {
    const { sender, put, outbox, requests } = setup([{ status: 503 }, { status: 503 }]);
    await put([item(1)]);
    await sender.flush(); // attempt 1 fails: wait 0.5 × 1 s
    await sender.flush(); // inside the backoff: nothing is sent
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(499);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1); // attempt 2 fails: wait 0.5 × 2 s
    expect(requests).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(requests.map((request) => request.ids)).toEqual([["id-1"], ["id-1"], ["id-1"]]);
    expect(await outbox.count()).toBe(0);
  });

  it("honours Retry-After on a 429", async () => {
    const { sender, put, requests } = setup([{ status: 429, retryAfter: "7" }]);
    await put([item(1)]);
    await sender.flush();
    await vi.advanceTimersByTimeAsync(6999);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests).toHaveLength(2);
  });

  it("sends at most a handful of requests over ten minutes of an unreachable endpoint", async () => {
    const { sender, put, outbox, requests } = setup(Array.from({ length: 100 }, () => ({ status: 0 })));
    await put([item(1)]);
    await sender.flush();
    for (let second = 0; second < 600; second++) {
      await vi.advanceTimersByTimeAsync(1000);
      if (second % 10 === 0) void sender.flush(); // new events and flush() calls do not cut the backoff short
    }
    expect(requests.length).toBeGreaterThanOrEqual(8);
    expect(requests.length).toBeLessThanOrEqual(12);
    expect(await outbox.count()).toBe(1);
  });

  it("stops sending on 401/403, keeps the events, and says so", async () => {
    const { sender, put, outbox, requests, errors } = setup([{ status: 401 }]);
    await put([item(1)]);
    await sender.flush();
    await vi.advanceTimersByTimeAsync(600_000);
    await sender.flush();
    expect(requests).toHaveLength(1);
    expect(await outbox.count()).toBe(1);
    expect(errors).toEqual([expect.stringContaining("HTTP 401: sending stops")]);
  });

  it("splits a batch the endpoint found too large (413) and resends it in halves", async () => {
    const { sender, put, requests } = setup([{ status: 413 }]);
    await put([1, 2, 3, 4].map((n) => item(n)));
    await sender.flush();
    expect(requests.map((request) => request.ids)).toEqual([["id-1", "id-2", "id-3", "id-4"], ["id-1", "id-2"], ["id-3", "id-4"]]);
  });

  it("attempts nothing while offline, and sends when the browser is back online", async () => {
    const { sender, put, requests, setOnline } = setup();
    setOnline(false);
    await put([item(1)]);
    await sender.flush();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(requests).toHaveLength(0);
    setOnline(true);
    sender.online();
    await vi.advanceTimersByTimeAsync(0);
    expect(requests).toHaveLength(1);
  });

  it("waits and looks again when another tab holds the send lock", async () => {
    let othersHold = true;
    const lock: SendLock = async (work) => (othersHold ? false : (await work(), true));
    const { sender, put, requests } = setup([], { lock });
    await put([item(1)]);
    await sender.flush();
    expect(requests).toHaveLength(0);
    othersHold = false;
    await vi.advanceTimersByTimeAsync(2000);
    expect(requests).toHaveLength(1);
  });
});

describe("a 2xx that lists rejected events (the collector's answer)", () => {
  const issue = { path: "metadata.network", message: "Expected one of `x`, but received: \"myspace\"" };
  /** The collector's answer refusing the events at `positions` of the batch. */
  const refusing = (...positions: number[]) => (ids: string[]) =>
    JSON.stringify({ accepted: ids.length - positions.length, duplicates: 0, rejected: positions.map((at) => ({ id: ids[at] ?? null, issues: [issue] })) });

  it("one error per answer naming each rejected id and its issues; nothing is sent again; the log counts apart", async () => {
    const { sender, put, outbox, requests, errors, raised, logs } = setup([{ status: 200, body: refusing(0, 2) }]);
    await put([item(1), item(2), item(3)]);
    await sender.flush();
    expect(errors).toEqual([`The endpoint rejected 2 of 3 event(s): id-1: ${issue.path}: ${issue.message} | id-3: ${issue.path}: ${issue.message}`]);
    expect(raised[0]).toMatchObject({ rejected: [{ id: "id-1", issues: [issue] }, { id: "id-3", issues: [issue] }] });
    expect(logs).toContain("batch of 3 → 200 (delivered 1, rejected 2)");
    expect(await outbox.count()).toBe(0);
    await sender.flush();
    expect(requests).toHaveLength(1);
  });

  it("an answer with an empty rejected list, or items not of its shape, is a plain delivery", async () => {
    const { sender, put, outbox, errors, logs } = setup([
      { status: 200, body: JSON.stringify({ accepted: 1, duplicates: 0, rejected: [] }) },
      { status: 202, body: JSON.stringify({ rejected: [{ id: 7, issues: "bad" }, null, "x"] }) },
    ]);
    await put([item(1)]);
    await sender.flush();
    await put([item(2)]);
    await sender.flush();
    expect(errors).toEqual([]);
    expect(logs.filter((line) => line.startsWith("batch"))).toEqual(["batch of 1 → 200 (delivered)", "batch of 1 → 202 (delivered)"]);
    expect(await outbox.count()).toBe(0);
  });

  it("a body that cannot be read is a plain delivery", async () => {
    const unreadable = vi.fn(async () => {
      const response = new Response("{}", { status: 200 });
      Object.defineProperty(response, "text", { value: () => Promise.reject(new TypeError("body stream already read")) });
      return response;
    });
    const { sender, put, outbox, errors } = setup([], { fetch: unreadable as unknown as typeof globalThis.fetch });
    await put([item(1)]);
    await sender.flush();
    expect(errors).toEqual([]);
    expect(await outbox.count()).toBe(0);
    expect(unreadable).toHaveBeenCalledTimes(1);
  });

  it("a leaving page's keepalive request hears them too, and settles the whole batch", async () => {
    const { sender, put, outbox, errors } = setup([{ status: 200, body: refusing(1) }]);
    await put([item(1), item(2)]);
    sender.flushOnExit(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(errors).toEqual([`The endpoint rejected 1 of 2 event(s): id-2: ${issue.path}: ${issue.message}`]);
    expect(await outbox.count()).toBe(0);
  });

  it("Voucherify's answer is not read: its body has another shape", async () => {
    const voucherify = voucherifyDestination("https://api.voucherify.io/", "app-1", "client-token-1");
    const { sender, put, errors } = setup([{ status: 200, body: refusing(0) }], { destination: voucherify });
    await put([{ ...item(1), event: { ...event(1), customer: { source_id: "anon_1" } } as WireEvent }]);
    await sender.flush();
    expect(errors).toEqual([]);
  });
});

describe("straight to Voucherify's client-side API", () => {
  const voucherify = voucherifyDestination("https://api.voucherify.io/", "app-1", "client-token-1");
  const voucherifyEvent = (n: number) => {
    const built = { ...event(n), customer: { source_id: "anon_1" }, referral: { code: "NRY-01" }, timestamp: "t", anonymous_id: "1", context: {} } as unknown as WireEvent;
    return { event: built, bytes: byteLength(JSON.stringify(built)) };
  };

  it("paces requests: at most 5 start in any 5 seconds", () => {
    const rate = { requests: 5, windowMs: 5000 };
    expect(paceWait([0, 100, 200, 300], rate, 400)).toBe(0);
    expect(paceWait([0, 100, 200, 300, 400], rate, 500)).toBe(4500);
    expect(paceWait([0, 100, 200, 300, 400], rate, 4900)).toBe(100);
    expect(paceWait([0, 100, 200, 300, 400], rate, 5000)).toBe(0); // the first has left the window
    expect(paceWait([0, 100, 200, 300, 400], null, 500)).toBe(0);
  });

  it("sends one event per request, with the client headers and a Voucherify body, paced to 5 per 5 s", async () => {
    const { sender, put, requests } = setup([], { destination: voucherify });
    await put([1, 2, 3, 4, 5, 6, 7].map(voucherifyEvent));
    await sender.flush();
    expect(requests).toHaveLength(5);
    expect(requests[0]?.headers).toEqual({ "Content-Type": "application/json", "X-Client-Application-Id": "app-1", "X-Client-Token": "client-token-1" });
    expect(requests[0]?.body).toEqual({ event: "e", customer: { source_id: "anon_1" }, metadata: { n: 1, pad: "" }, referral: { code: "NRY-01" } });
    // 5 s, plus 250 ms for the gap between our start and Voucherify's arrival time.
    await vi.advanceTimersByTimeAsync(5249);
    expect(requests).toHaveLength(5);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests.map((request) => request.ids[0])).toEqual(["id-1", "id-2", "id-3", "id-4", "id-5", "id-6", "id-7"]);
  });

  it("leaving the page: only events no other tab can see yet, within the pace, never a beacon (no headers)", async () => {
    const beacon = vi.fn(() => true);
    const { sender, put, requests } = setup([], { destination: voucherify, sendBeacon: beacon, lock: async () => false }); // another tab sends
    await put([voucherifyEvent(1)]); // in the shared outbox: the tab holding the lock may be sending it right now
    void sender.enqueue([2, 3, 4, 5, 6, 7, 8].map(voucherifyEvent)); // tracked just now, not written yet
    sender.flushOnExit(true);
    expect(requests.map((request) => [request.ids[0], request.keepalive])).toEqual([2, 3, 4, 5, 6].map((n) => [`id-${n}`, true]));
    expect(beacon).not.toHaveBeenCalled();
  });

  it("treats Voucherify's 404 as final (what the event names does not exist), not as a redeploy to wait out", async () => {
    const { sender, put, requests, errors, outbox } = setup([{ status: 404 }], { destination: voucherify });
    await put([voucherifyEvent(1), voucherifyEvent(2)]);
    await sender.flush();
    expect(requests.map((request) => [request.ids[0], request.keepalive])).toEqual([["id-1", false], ["id-2", false]]);
    expect(errors).toEqual([expect.stringContaining("refused with HTTP 404")]);
    expect(await outbox.count()).toBe(0);
  });

  it("a clock set back does not stall sending for that long", async () => {
    const shared = memorySendState();
    shared.write({ retryAt: Date.now() + 86_400_000, starts: [Date.now() + 3_600_000, Date.now() + 3_600_000, Date.now() + 3_600_000, Date.now() + 3_600_000, Date.now() + 3_600_000] });
    const { sender, put, requests } = setup([], { destination: voucherify, shared });
    await put([voucherifyEvent(1)]);
    await sender.flush();
    await vi.advanceTimersByTimeAsync(300_000);
    expect(requests.map((request) => request.ids[0])).toEqual(["id-1"]);
  });
});

describe("when sending is not allowed (offline, or no consent)", () => {
  it("a leaving page sends nothing, and still writes what it tracked", async () => {
    const { sender, outbox, requests } = setup([], { maySend: () => false });
    void sender.enqueue([item(1)]);
    sender.flushOnExit(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(requests).toEqual([]);
    expect(await outbox.count()).toBe(1);
  });
});

describe("a wait the endpoint asked for", () => {
  it("binds the next page load too, and a leaving page sends nothing inside it", async () => {
    const shared = memorySendState();
    const first = setup([{ status: 429, retryAfter: "30" }], { shared });
    await first.put([item(1)]);
    await first.sender.flush();
    first.sender.flushOnExit(true);
    expect(first.requests).toHaveLength(1);
    const reloaded = setup([], { shared, outbox: first.outbox });
    await reloaded.sender.flush();
    expect(reloaded.requests).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(reloaded.requests.map((request) => request.ids)).toEqual([["id-1"]]);
  });

  it("a network error binds only this page: the next load tries at once", async () => {
    const shared = memorySendState();
    const first = setup([{ status: 0 }], { shared });
    await first.put([item(1)]);
    await first.sender.flush();
    const reloaded = setup([], { shared, outbox: first.outbox });
    await reloaded.sender.flush();
    expect(reloaded.requests.map((request) => request.ids)).toEqual([["id-1"]]);
  });
});

describe("several tabs on one outbox", () => {
  it("a hidden tab does not resend what another tab delivered, nor what the bound dropped", async () => {
    const dropped: number[] = [];
    const outbox = memoryOutbox({ maxEvents: 3, maxBytes: 1_000_000, onDropped: (count) => dropped.push(count) });
    const lock = localLock();
    const tabA = setup([], { outbox, lock, tabId: "a" });
    const tabB = setup([], { outbox, lock, tabId: "b" });
    await tabA.put([1, 2, 3, 4, 5].map((n) => item(n)));
    expect(dropped).toEqual([2]);
    await tabB.sender.flush(); // B delivers A's three remaining events
    await tabA.sender.flush(); // A sees an empty outbox and forgets them
    tabA.sender.flushOnExit(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(tabB.requests.map((request) => request.ids)).toEqual([["id-3", "id-4", "id-5"]]);
    expect(tabA.requests).toEqual([]);
  });
});

describe("when the page goes away", () => {
  it("a plain hide does not resend the batch in flight; an unload does, since the browser cancels it", async () => {
    let answer: (response: Response) => void = () => undefined;
    const inFlight = new Promise<Response>((resolve) => (answer = resolve));
    const keepalive: string[][] = [];
    const fetch = vi.fn(async (_url: RequestInfo | URL, init: RequestInit = {}) => {
      if (!init.keepalive) return inFlight;
      keepalive.push((JSON.parse(String(init.body)) as { batch: WireEvent[] }).batch.map((event) => event.id));
      return new Response("{}");
    });
    const { sender, put } = setup([], { fetch: fetch as unknown as typeof globalThis.fetch });
    await put([item(1)]);
    const flushing = sender.flush();
    await vi.advanceTimersByTimeAsync(0);
    sender.flushOnExit(false);
    expect(keepalive).toEqual([]);
    sender.flushOnExit(true);
    expect(keepalive).toEqual([["id-1"]]);
    answer(new Response("{}"));
    await flushing;
  });


  it("sends this tab's unconfirmed events with keepalive, and keeps them queued until confirmed", async () => {
    const { sender, put, outbox, requests } = setup([{ status: 0 }]);
    await put([item(1), item(2)]);
    sender.flushOnExit(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(requests).toEqual([expect.objectContaining({ ids: ["id-1", "id-2"], keepalive: true })]);
    expect(await outbox.count()).toBe(2);
    sender.flushOnExit(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(await outbox.count()).toBe(0);
  });

  it("does not send the same events twice when both visibilitychange and pagehide fire", async () => {
    const { sender, put, requests } = setup();
    await put([item(1)]);
    sender.flushOnExit(true);
    sender.flushOnExit(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(requests.map((request) => request.ids)).toEqual([["id-1"]]);
  });

  it("includes events not yet written to storage", async () => {
    const { sender, put, requests } = setup();
    void sender.enqueue([item(1)]);
    sender.flushOnExit(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(requests[0]).toMatchObject({ ids: ["id-1"], keepalive: true });
  });

  it("keeps keepalive bodies within 64 KB in all, and hands the rest to sendBeacon", async () => {
    const beacons: number[] = [];
    const { sender, put, requests } = setup([], {
      sendBeacon: (_url, body) => {
        beacons.push(body.size);
        return true;
      },
    });
    await put(Array.from({ length: 8 }, (_, n) => item(n, 15_000)));
    sender.flushOnExit(true);
    expect(requests.reduce((sum, request) => sum + request.bytes, 0)).toBeLessThanOrEqual(MAX_BODY_BYTES);
    expect(requests.length + beacons.length).toBeGreaterThanOrEqual(2);
    expect(beacons.length).toBeGreaterThan(0);
  });
});

describe("the outbox bound", () => {
  const key = (time: number, bytes: number): OutboxKey => [time, "t", time, bytes];

  it("drops the oldest events beyond the count or the byte bound", () => {
    expect(overflow([key(1, 10), key(2, 10), key(3, 10)], 2, 1000)).toEqual([key(1, 10)]);
    expect(overflow([key(1, 600), key(2, 300), key(3, 300)], 10, 1000)).toEqual([key(1, 600)]);
    expect(overflow([key(1, 10)], 10, 1000)).toEqual([]);
  });

  it("tells onDropped how many went, never silently", async () => {
    const dropped: number[] = [];
    const outbox = memoryOutbox({ maxEvents: 3, maxBytes: 1_000_000, onDropped: (count) => dropped.push(count) });
    const { sender, put } = setup([], { outbox });
    await put([1, 2, 3, 4, 5].map((n) => item(n)));
    expect(dropped).toEqual([2]);
    expect((await outbox.peek(10)).map((entry) => entry.event.id)).toEqual(["id-3", "id-4", "id-5"]);
  });
});
