// Whether an earlier page left something to send: commands made before the tracker arrived (in localStorage), or
// events in the outbox. The next page's first file must know at once, and a link clicked a moment before the page
// goes away must still tell it: so first-party cookies, written synchronously and read with the `document.cookie`
// the first file reads anyway for `reftrack_ref`. One per owner, so neither overwrites the other's: the first file
// sets `reftrack_pending=1`, the tracker `reftrack_backlog=1`. No identifier, no code, no page data.
export type WaitingFor = "pending" | "backlog";

/** Whether `document.cookie` says something waits; any other value counts for nothing. */
export const somethingWaits = (cookies: string): boolean => /(^|;\s*)reftrack_(pending|backlog)=1(;|$)/.test(cookies);

/**
 * Sets or removes one flag. Host-only, as localStorage and the outbox are; a month at most, since what waits goes out
 * with the next page that opens, and a visitor who never comes back needs no flag for ever.
 */
export function setWaiting(doc: Document, what: WaitingFor, on: boolean, secure: boolean): void {
  try {
    doc.cookie = `reftrack_${what}=${on ? "1; Max-Age=2592000" : "; Max-Age=0"}; Path=/; SameSite=Lax${secure ? "; Secure" : ""}`;
  } catch {
    // cookies blocked (a sandboxed frame): what waits goes out with the next page that tracks
  }
}
