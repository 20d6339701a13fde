// What the small first file (landing.ts) hands to the full tracker (full.ts) when a page first tracks: its script
// element, the referral it captured, and every command made meanwhile. Both files are built from these definitions.
import type { ElementAction } from "./elements.js";
import type { PageContext } from "./event.js";
import type { ConsentChoice } from "./consent.js";
import type { Referral } from "./referral.js";

/** The handoff hangs on `window.reftrack` under this symbol: no other global, and any copy of the code finds it. */
export const HANDOFF = Symbol.for("reftrack.handoff");

/** Where the copy in charge sends: a second script tag names it in its warning. Shared by every copy of the code. */
const DESTINATION = Symbol.for("reftrack.destination");

const destinationOf = (script: Element | null) => {
  const endpoint = script?.getAttribute("data-endpoint");
  const app = script?.getAttribute("data-voucherify-app-id");
  return endpoint ? `data-endpoint="${endpoint}"` : app ? `data-voucherify-app-id="${app}"` : "no data-endpoint";
};

/** Marks `api` as the copy in charge, sending where `script` says. */
export const markInCharge = (api: object, script: Element | null) => Object.defineProperty(api, DESTINATION, { value: destinationOf(script) });

/**
 * Whether a copy is in charge already (a second script tag, say); if so, says which one stays and which is ignored.
 * Both files use it: whichever of them meets the other first.
 */
export function alreadyInCharge(existing: unknown, script: Element | null): boolean {
  if (!existing || typeof (existing as { version?: unknown }).version !== "string") return false;
  const first = String((existing as Record<symbol, unknown>)[DESTINATION] ?? "none");
  console.warn(`[reftrack] a second reftrack.js (${destinationOf(script)}) was ignored; the first (${first}) stays in charge. Remove one of the script tags.`);
  return true;
}

/** Commands kept across a navigation, so that one made just before the page went away is not lost. */
export const PENDING_KEY = "reftrack:pending";

/**
 * A command made before the tracker was there. A tracked event keeps its id, time and page from the moment it was
 * made, so the event the tracker builds later is the one the page asked for, and a replay after a reload is a
 * duplicate the endpoint drops by id.
 */
export type Pending =
  | { kind: "track"; id: string; at: number; page: PageContext; name: unknown; metadata: unknown }
  | { kind: "element"; id: string; at: number; page: PageContext; action: ElementAction }
  // `at` is missing from entries kept before it was added.
  | { kind: "call"; id: string; command: string; args: unknown[]; at?: number };

/** What the first file hands over: this page's commands, and earlier pages' as read back from storage (isPending). */
export type Unchecked = Pending | { id: string; kind?: unknown };

export interface Handoff {
  script: Element;
  /** The referral the first file captured from the landing URL (the URL may have changed since: clean-url). */
  captured: Referral | null;
  /** The consent choice the first file decided from (cookie, IndexedDB, localStorage), if it has decided. */
  choice: ConsentChoice | null;
  /**
   * Called by the tracker once it stands, with its API: the first file stops its listeners, forwards later calls to
   * `tracker`, and returns what was queued.
   */
  takeOver(tracker: (command: unknown, ...args: unknown[]) => unknown): { pending: Unchecked[]; settle: (id: string, outcome: Promise<unknown>) => void };
}

/** The global's methods (CONTRACT section 2), each the same as the call that names it: both files install these. */
export const METHODS = ["track", "identify", "flush", "reset", "referral", "consent"] as const;
export type Method = (typeof METHODS)[number];
/** The commands that are calls, not events: kept and replayed in order with them. */
export const COMMANDS: readonly string[] = ["identify", "flush", "reset", "consent"] satisfies Method[];

/**
 * A copy of what the page passed to a command, which may change after the call. structuredClone keeps what JSON would
 * not (NaN, a Date), so the tracker's checks refuse it as they would the original.
 */
export function copy(value: unknown): unknown {
  try {
    return structuredClone(value);
  } catch {
    return value; // a function, say: the tracker's checks say why
  }
}
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const isPage = (value: unknown) => isObject(value) && ["url", "path", "referrer", "title"].every((key) => typeof value[key] === "string");

/** Enough of an entry for the first file to keep it, hand it over and free it by id; the tracker checks the rest. */
export const hasId = (value: unknown): value is { id: string } => isObject(value) && typeof value.id === "string";

/**
 * An entry read back from storage, field by field: the visitor (or any script of the site) can write there, and an
 * entry of the wrong shape must be dropped, never replayed into an error that stops the ones after it.
 */
export function isPending(value: unknown): value is Pending {
  if (!isObject(value) || typeof value.id !== "string") return false;
  if (value.kind === "call") return typeof value.command === "string" && COMMANDS.includes(value.command) && Array.isArray(value.args);
  if (!(typeof value.at === "number" && Number.isFinite(value.at) && isPage(value.page))) return false;
  if (value.kind === "track") return "name" in value;
  return value.kind === "element" && isObject(value.action) && typeof value.action.name === "string" && isObject(value.action.metadata);
}
