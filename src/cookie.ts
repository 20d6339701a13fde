// The referral in the first-party cookie `reftrack_ref` (CONTRACT section 8): it rides along with every request to the
// site, so the site's server can read the code it needs to claim a conversion; on a parent domain
// (`data-cookie-domain`) a visitor who lands on www.example.com and signs up on app.example.com keeps the code too.
// Pure: the tracker reads and writes document.cookie; reftrack/server reads the same format from a Cookie header.
//
// Value: four fields joined by `|`, each percent-encoded: `code|param|captured_at|expires_at` (ISO 8601 times).
import { REFERRAL_CODE, REFERRAL_PARAM, type Referral } from "./referral.js";

export const REFERRAL_COOKIE = "reftrack_ref";
/** A parent domain such as `.example.com`: letters, digits and dashes in at least two labels. */
export const COOKIE_DOMAIN = /^\.?([A-Za-z0-9-]+\.)+[A-Za-z0-9-]+$/;

/** Where the cookie lives: host-only unless a parent `domain` is given; `Secure` on https pages. */
export interface CookieScope {
  domain?: string | undefined;
  secure: boolean;
}

/** The attributes every cookie of reftrack carries (state-cookie.ts too). */
export const attributes = ({ domain, secure }: CookieScope) => `${domain ? `; Domain=${domain}` : ""}; Path=/; SameSite=Lax${secure ? "; Secure" : ""}`;

export function referralCookieValue(referral: Pick<Referral, "code" | "param" | "captured_at" | "expires_at">): string {
  return [referral.code, referral.param, referral.captured_at, referral.expires_at].map(encodeURIComponent).join("|");
}

/** The cookie for `referral`, living exactly as long as its attribution window. No landing URL: small, and no page data. */
export function referralCookie(referral: Referral, scope: CookieScope, now: number): string {
  const maxAge = Math.max(0, Math.floor((Date.parse(referral.expires_at) - now) / 1000));
  return `${REFERRAL_COOKIE}=${referralCookieValue(referral)}${attributes(scope)}; Max-Age=${maxAge}`;
}

export function expiredReferralCookie(scope: CookieScope): string {
  return `${REFERRAL_COOKIE}=${attributes(scope)}; Max-Age=0`;
}

/**
 * The referral in `document.cookie`, if it is there, well formed, and still inside its window. Untrusted input: any
 * subdomain may write it, so its times must be plausible (captured in the past, expiring within `maxDays` of that).
 * `skewMs`: how far ahead of `now` a capture may be, when another machine's clock wrote it (reftrack/server).
 */
export function readReferralCookie(cookies: string, now: number, maxDays: number, skewMs = 0): Referral | null {
  // A host-only cookie and a parent-domain one can both be there (a site that changed data-cookie-domain): the
  // latest capture is the one attribution wants.
  let latest: Referral | null = null;
  for (const pair of cookies.split(";")) {
    const [name, ...rest] = pair.trim().split("=");
    if (name !== REFERRAL_COOKIE) continue;
    const referral = parseValue(rest.join("="), now, maxDays, skewMs);
    if (referral && (!latest || referral.captured_at > latest.captured_at)) latest = referral;
  }
  return latest;
}

function parseValue(value: string, now: number, maxDays: number, skewMs: number): Referral | null {
  let parts: string[];
  try {
    parts = value.split("|").map(decodeURIComponent);
  } catch {
    return null;
  }
  const [code = "", param = "", capturedAt = "", expiresAt = ""] = parts;
  const [captured, expires] = [Date.parse(capturedAt), Date.parse(expiresAt)];
  if (parts.length !== 4 || !REFERRAL_CODE.test(code) || !REFERRAL_PARAM.test(param)) return null;
  if (!(captured <= now + skewMs) || !(expires > now) || expires - captured > maxDays * 86_400_000) return null;
  return { code, param, captured_at: new Date(captured).toISOString(), expires_at: new Date(expires).toISOString(), landing_url: "" };
}
