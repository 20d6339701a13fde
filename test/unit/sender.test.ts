import { describe, expect, it, vi } from "vitest";
import { createSender } from "../../src/sender.js";
import { classifyStatus } from "../../src/transport.js";
import type { WireEvent } from "../../src/event.js";
import { recordingFetch } from "./harness.js";

const event = (n: number) => ({ id: `id-${n}`, event: "e", metadata: { n } }) as unknown as WireEvent;

function sender(statuses: number[], batchSize = 10) {
  const network = recordingFetch(statuses);
  const errors: Error[] = [];
  const timers: (() => void)[] = [];
  const instance = createSender({
    endpoint: "/v1/batch",
    batchSize,
    flushMs: 1000,
    fetch: network.fetch,
    now: () => 0,
    setTimeout: (callback) => timers.push(callback),
    clearTimeout: () => undefined,
    onError: (error) => void errors.push(error),
    log: () => undefined,
  });
  return { instance, sent: network.sent, errors, timers };
}

describe("classifyStatus", () => {
  it.each([
    [200, "delivered"],
    [204, "delivered"],
    [400, "rejected"],
    [422, "rejected"],
    [413, "split"],
    [0, "retry"],
    [408, "retry"],
    [429, "retry"],
    [500, "retry"],
    [503, "retry"],
  ])("%i → %s", (status, delivery) => expect(classifyStatus(status)).toBe(delivery));
});

describe("the in-memory sender", () => {
  it("drops a rejected batch and tells onError how many events", async () => {
    const { instance, errors } = sender([422]);
    await instance.enqueue([event(1), event(2)]);
    await instance.flush();
    expect(instance.pending()).toBe(0);
    expect(errors[0]?.message).toContain("refused 2 event(s) with HTTP 422");
  });

  it("keeps a batch that failed on the network or with 5xx, in order, for the next attempt", async () => {
    const { instance, sent, timers } = sender([0, 503]);
    await instance.enqueue([event(1), event(2)]);
    const scheduled = timers.length;
    await instance.flush();
    expect(instance.pending()).toBe(2);
    expect(timers.length - scheduled).toBe(1); // a later attempt is scheduled, not a busy loop
    await instance.enqueue([event(3)]);
    await instance.flush();
    await instance.flush();
    expect(sent.map((request) => request.batch.map((item) => item.id))).toEqual([
      ["id-1", "id-2"],
      ["id-1", "id-2", "id-3"],
      ["id-1", "id-2", "id-3"],
    ]);
    expect(instance.pending()).toBe(0);
  });

  it("splits a batch the endpoint found too large (413) and resends it in halves", async () => {
    const { instance, sent } = sender([413]);
    await instance.enqueue([1, 2, 3, 4].map(event));
    await instance.flush();
    expect(sent.map((request) => request.batch.length)).toEqual([4, 2, 2]);
  });

  it("runs overlapping flushes one after another, so batches keep their order", async () => {
    const { instance, sent } = sender([], 1);
    const flushing = vi.fn();
    await instance.enqueue([event(1), event(2)]);
    await Promise.all([instance.flush().then(flushing), instance.flush().then(flushing), instance.flush().then(flushing)]);
    expect(sent.map((request) => request.batch[0]?.id)).toEqual(["id-1", "id-2"]);
    expect(flushing).toHaveBeenCalledTimes(3);
  });
});
