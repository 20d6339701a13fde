// What the first file must learn from `document.cookie`, which it reads anyway for `reftrack_ref`, because it has to
// hold even when the page goes away a moment after it was written:
// - whether an earlier page left something to send: commands made before the tracker arrived (in localStorage), or
//   events in the outbox. One cookie per owner, so neither overwrites the other's: the first file sets
//   `reftrack_pending=1`, the tracker `reftrack_backlog=1`;
// - the visitor's consent choice, `reftrack_consent=granted|denied`, beside localStorage's and IndexedDB's copies:
//   written synchronously, it counts on the very next page, where IndexedDB's copy may not have landed yet.
// No identifier, no code, no page data. Host-only, as localStorage, IndexedDB and the outbox are.
import type { ConsentChoice } from "./consent.js";
import { attributes } from "./cookie.js";

export type WaitingFor = "pending" | "backlog";

/** Whether `document.cookie` says something waits; any other value counts for nothing. */
export const somethingWaits = (cookies: string): boolean => /(^|;\s*)reftrack_(pending|backlog)=1(;|$)/.test(cookies);

/** The choice the cookie holds, if any. */
export const cookieChoice = (cookies: string): ConsentChoice | null => (/(^|;\s*)reftrack_consent=(granted|denied)(;|$)/.exec(cookies)?.[2] as ConsentChoice | undefined) ?? null;

/**
 * Sets or removes one flag: a month at most, since what waits goes out with the next page that opens, and a visitor
 * who never comes back needs no flag for ever.
 */
export function setWaiting(doc: Document, what: WaitingFor, on: boolean, secure: boolean): void {
  writeCookie(doc, `reftrack_${what}=${on ? "1" : ""}${attributes({ secure })}; Max-Age=${on ? 2592000 : 0}`);
}

/** Records the choice for as long as a browser keeps a cookie (400 days; Safari caps it at 7, IndexedDB's copy stays). */
export function setChoiceCookie(doc: Document, choice: ConsentChoice, secure: boolean): void {
  writeCookie(doc, `reftrack_consent=${choice}${attributes({ secure })}; Max-Age=34560000`);
}

/** Writes one cookie; never throws into the page. */
export function writeCookie(doc: Document, cookie: string): void {
  try {
    doc.cookie = cookie;
  } catch {
    // cookies refused (a sandboxed document): localStorage and IndexedDB hold what they can
  }
}

/** `document.cookie`, or nothing where reading it is refused (a sandboxed document): never a throw into the page. */
export function readCookies(doc: Document): string {
  try {
    return doc.cookie;
  } catch {
    return "";
  }
}
