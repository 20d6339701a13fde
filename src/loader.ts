// The script tag (CONTRACT section 2): read its attributes, start a tracker, replay the stub's queue in order,
// and leave `window.reftrack` as a function that also carries the methods.
import { optionsFromAttributes } from "./options.js";
import { compileSchema, type SchemaDocument } from "./schema.js";
import { errorMessage } from "./storage.js";
import { createTracker, type Tracker } from "./tracker.js";
import { ConsentError } from "./consent.js";

type Method = "track" | "identify" | "flush" | "reset" | "referral" | "consent";
const METHODS: readonly Method[] = ["track", "identify", "flush", "reset", "referral", "consent"];

export type GlobalReftrack = ((command: string, ...args: unknown[]) => unknown) & Record<Method, (...args: unknown[]) => unknown> & { version: string };

interface StubbedWindow extends Window {
  reftrack?: unknown;
}

const warn = (error: Error) => console.warn("[reftrack]", error.message, error);

/** Starts reftrack from its script element. Never throws: a page must not break because its tracker could not start. */
export function installGlobal(win: StubbedWindow, script: Element | null): void {
  try {
    const existing = win.reftrack as { q?: unknown; version?: unknown } | undefined;
    if (existing && typeof existing.version === "string") return; // loaded twice: the first copy stays in charge
    const queue = existing && Array.isArray(existing.q) ? (existing.q as ArrayLike<unknown>[]) : [];
    if (!script) throw new Error("cannot find its own <script> element");
    const options = optionsFromAttributes((name) => script.getAttribute(name));
    const tracker = createTracker({ ...options, schema: schemaOption(options.schema, win.document), onError: warn } as Parameters<typeof createTracker>[0]);
    const api = globalApi(tracker as unknown as Tracker<SchemaDocument>, options.debug === "true" || options.debug === "");
    win.reftrack = api;
    for (const args of queue) api(...(Array.from(args) as [string, ...unknown[]]));
  } catch (error) {
    console.error("[reftrack] not started:", errorMessage(error));
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

function globalApi(tracker: Tracker<SchemaDocument>, debug: boolean): GlobalReftrack {
  const call = (command: unknown, args: unknown[]): unknown => {
    if (typeof command !== "string" || !(METHODS as readonly string[]).includes(command)) {
      warn(new Error(`Unknown command ${JSON.stringify(command)} (known: ${METHODS.join(", ")})`));
      return undefined;
    }
    const method = tracker[command as Method] as (...args: unknown[]) => unknown;
    const result = method(...args);
    // Queued and one-line calls rarely handle rejections: report them here so none goes unhandled. A visitor who
    // declined is not a site's bug: that one is heard in debug mode only.
    if (result instanceof Promise) result.catch((error: Error) => (error instanceof ConsentError && !debug ? undefined : warn(error)));
    return result;
  };
  const api = ((command: unknown, ...args: unknown[]) => call(command, args)) as GlobalReftrack;
  for (const method of METHODS) api[method] = (...args: unknown[]) => call(method, args);
  api.version = __REFTRACK_VERSION__;
  return api;
}
