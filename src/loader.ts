// The script tag (CONTRACT section 2): read its attributes, start a tracker, replay the stub's queue in order,
// and leave `window.reftrack` as a function that also carries the methods.
import { optionsFromAttributes } from "./options.js";
import { compileSchema, type SchemaDocument } from "./schema.js";
import { errorMessage } from "./storage.js";
import { browserTracker, type Tracker } from "./tracker.js";
import { ConsentError } from "./consent.js";
import { failedTracker } from "./inert.js";
import { alreadyInCharge, isPending, markInCharge, METHODS, type Handoff, type Method } from "./handoff.js";
import { attempt, REPLAY, type Replay } from "./tracker.js";

export type GlobalReftrack = ((command: string, ...args: unknown[]) => unknown) & Record<Method, (...args: unknown[]) => unknown> & { version: string };

interface StubbedWindow extends Window {
  reftrack?: unknown;
}

const warn = (error: Error) => console.warn("[reftrack]", error.message, error);

/**
 * Starts reftrack from its script element. Never throws: a page must not break because its tracker could not start.
 * Even then every method is installed, and rejects with the reason, so the page's calls neither throw nor vanish.
 */
export function installGlobal(win: StubbedWindow, script: Element | null, landing?: Handoff): void {
  const existing = win.reftrack as ({ q?: unknown; version?: unknown } & Record<symbol, unknown>) | undefined;
  const options = script ? optionsFromAttributes((name) => script.getAttribute(name)) : {};
  const debug = options.debug === "true" || options.debug === "";
  if (!landing && alreadyInCharge(existing, script)) return;
  const queue = existing && Array.isArray(existing.q) && !landing ? (existing.q as ArrayLike<unknown>[]) : [];
  let tracker: Tracker<SchemaDocument>;
  let failure: Error | null = null;
  try {
    if (!script) throw new Error("reftrack.js cannot find its own <script> element: load it with a plain <script src> tag, not from another script");
    const edges = landing ? { captured: landing.captured, choice: landing.choice, keptTakenIn: true } : {};
    tracker = browserTracker({ ...options, schema: schemaOption(options.schema, win.document), onError: warn } as Parameters<typeof browserTracker>[0], edges) as unknown as Tracker<SchemaDocument>;
  } catch (error) {
    failure = new Error(`reftrack did not start: ${errorMessage(error)}`);
    console.error(`[reftrack] ${failure.message}`);
    tracker = failedTracker(failure) as unknown as Tracker<SchemaDocument>;
  }
  const api = globalApi(tracker, debug, failure);
  markInCharge(api, script);
  win.reftrack = api;
  for (const args of queue) api(...(Array.from(args) as [string, ...unknown[]]));
  if (landing) replayLanding(landing, tracker, api, failure);
}

/**
 * What the first file held, in the order it was made: calls through the API, events with the id, time and page they
 * were made with. Each outcome settles the promise the page was given, and frees the command from storage.
 */
function replayLanding(landing: Handoff, tracker: Tracker<SchemaDocument>, api: GlobalReftrack, failure: Error | null): void {
  const { pending, settle } = landing.takeOver((command, ...args) => api(command as string, ...args));
  const replay = (tracker as unknown as Record<symbol, Replay | undefined>)[REPLAY];
  for (const kept of pending) {
    // Read back from storage, which any script of the site can write: an entry of the wrong shape is dropped (and
    // freed), never replayed into an error that stops the ones after it.
    if (!isPending(kept)) {
      settle(kept.id, Promise.reject(new Error("a malformed kept command was dropped")));
      continue;
    }
    const entry = kept;
    // One entry that throws must not stop the ones after it, nor leave the page's promise hanging. The tracker replays
    // each with its own id (held under it if the page leaves meanwhile); a tracker that did not start refuses every
    // event, and its calls answer as any call would.
    const settled = attempt(() => Promise.resolve(replay ? replay(entry) : entry.kind === "call" ? api(entry.command, ...entry.args) : Promise.reject(failure)));
    // Events the page never awaited (an element, a command of an earlier page) are reported like any other; a call
    // without a tracker was reported by the API already.
    if (replay || entry.kind !== "call") settled.catch((error: Error) => ((error instanceof ConsentError) || error === failure ? undefined : warn(error)));
    settle(entry.id, settled);
  }
}

/** `#id` names an inline `<script type="application/json">`; anything else is a URL the tracker fetches. */
function schemaOption(value: unknown, doc: Document): unknown {
  if (typeof value !== "string" || !value.startsWith("#")) return value;
  try {
    const schema: unknown = JSON.parse(doc.getElementById(value.slice(1))?.textContent ?? "");
    compileSchema(schema);
    return schema;
  } catch (error) {
    warn(new Error(`Could not use the inline event schema ${value} (${errorMessage(error)}); events are checked as JSON only`));
    return null;
  }
}

/** `failure`: why the tracker did not start, said once already; its rejections are not repeated per call. */
function globalApi(tracker: Tracker<SchemaDocument>, debug: boolean, failure: Error | null): GlobalReftrack {
  const call = (command: unknown, args: unknown[]): unknown => {
    if (typeof command !== "string" || !(METHODS as readonly string[]).includes(command)) {
      warn(new Error(`Unknown command ${JSON.stringify(command)} (known: ${METHODS.join(", ")})`));
      return undefined;
    }
    const method = tracker[command as Method] as (...args: unknown[]) => unknown;
    const result = method(...args);
    // Queued and one-line calls rarely handle rejections: report them here so none goes unhandled. A visitor who
    // declined is not a site's bug: that one is heard in debug mode only.
    if (result instanceof Promise) result.catch((error: Error) => ((error instanceof ConsentError && !debug) || error === failure ? undefined : warn(error)));
    return result;
  };
  const api = ((command: unknown, ...args: unknown[]) => call(command, args)) as GlobalReftrack;
  for (const method of METHODS) api[method] = (...args: unknown[]) => call(method, args);
  api.version = __REFTRACK_VERSION__;
  return api;
}
