// A tracker on happy-dom with its network and clock in the test's hands.
import { afterEach, vi } from "vitest";
import { memoryStore, type KeyValueStore } from "../../src/storage.js";
import { memoryOutbox } from "../../src/outbox.js";
import { localLock } from "../../src/lock.js";
import { createTracker, type TrackerEdges } from "../../src/tracker.js";
import type { TrackerOptions } from "../../src/options.js";
import type { SchemaDocument } from "../../src/schema.js";
import type { WireEvent } from "../../src/event.js";

export interface Sent {
  url: string;
  init: RequestInit;
  batch: WireEvent[];
}

export function setUrl(url: string): void {
  (window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(url);
}

/** Expires every cookie of the page: the referral cookie would otherwise carry one test's code into the next. */
export function clearCookies(): void {
  for (const pair of document.cookie.split(";")) {
    const name = pair.split("=")[0]?.trim();
    if (name) document.cookie = `${name}=; Path=/; Max-Age=0`;
  }
}

/** A fetch that records every batch and answers with the statuses given, then 200; GETs are answered from `pages`. */
export function recordingFetch(statuses: number[] = [], pages: Record<string, () => Response> = {}) {
  const sent: Sent[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    if (init.method !== "POST") return pages[url]?.() ?? new Response("", { status: 404 });
    sent.push({ url, init, batch: (JSON.parse(String(init.body)) as { batch: WireEvent[] }).batch });
    return new Response("{}", { status: statuses.shift() ?? 200 });
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, sent, mock: fetch };
}

export function startTracker<S extends SchemaDocument | undefined = undefined>(
  options: Partial<TrackerOptions<S>> = {},
  edges: Partial<TrackerEdges> & { statuses?: number[]; pages?: Record<string, () => Response> } = {},
) {
  const network = recordingFetch(edges.statuses, edges.pages);
  const errors: Error[] = [];
  const store: KeyValueStore = edges.store ?? memoryStore();
  const tracker = createTracker<S>(
    { endpoint: "https://collect.example/v1/batch", onError: (error) => void errors.push(error), ...options } as TrackerOptions<S>,
    // Each tracker gets its own outbox unless a test shares one: fake-indexeddb lives as long as the test file.
    { fetch: network.fetch, store, outbox: memoryOutbox({ maxEvents: 1000, maxBytes: 1_000_000, onDropped: () => undefined }), lock: localLock(), ...edges },
  );
  return { tracker, sent: network.sent, fetch: network.mock, errors, store, events: () => network.sent.flatMap((request) => request.batch) };
}

/** A `startTracker` whose trackers are destroyed after each test of the calling file (listeners, history hooks). */
export function trackersPerTest(): typeof startTracker {
  const running: { destroy(): void }[] = [];
  afterEach(() => running.splice(0).forEach((tracker) => tracker.destroy()));
  return (...args) => {
    const started = startTracker(...args);
    running.push(started.tracker);
    return started;
  };
}
