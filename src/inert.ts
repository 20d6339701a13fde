// A tracker that does nothing: what `createTracker` returns where no browser runs (server-side rendering, tests in
// Node), and what the script tag installs when it cannot start, so a page's calls never throw.
import type { Tracker } from "./tracker.js";

let warned = false;

/** Outside a browser: every method resolves, nothing is kept or sent, and one warning says so. */
export function serverSideTracker<T extends Tracker<never>>(): T {
  if (!warned) {
    warned = true;
    console.warn("[reftrack] createTracker ran outside a browser (no window): this tracker does nothing. Create it in browser code, e.g. in an effect or behind typeof window !== \"undefined\".");
  }
  return inert(() => Promise.resolve(), () => Promise.resolve({ id: "" })) as T;
}

/** The script tag could not start: every method rejects with `error`, so a page that awaits learns why. */
export function failedTracker(error: Error): Tracker<never> {
  return inert(() => Promise.reject(error), () => Promise.reject(error));
}

function inert(answer: () => Promise<void>, tracked: () => Promise<{ id: string }>): Tracker<never> {
  return {
    track: tracked,
    identify: answer,
    flush: answer,
    reset: answer,
    consent: answer,
    referral: () => null,
    destroy: () => undefined,
  } as unknown as Tracker<never>;
}
