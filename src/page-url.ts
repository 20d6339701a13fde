// What reftrack keeps of a page address. Query strings and fragments carry secrets (a password reset's `?token=`, an
// OAuth `#access_token=`, an address's `user:pass@`), so only what attribution needs leaves the page.
import { REFERRAL_CODE } from "./referral.js";

/**
 * Origin and path, with only the query parameters named in `keep`, `utm_*` ones, and referral parameters (`codes`)
 * whose value is a code (`?ref=<a token>` is no code); no fragment, no userinfo. "" for anything that is not an
 * http(s) URL (an empty referrer, a data: URL).
 */
export function scrubUrl(href: string, keep: readonly string[], codes: readonly string[] = []): string {
  try {
    const url = new URL(href);
    if (!/^https?:$/.test(url.protocol)) return "";
    const kept = [...url.searchParams].filter(([name, value]) => keep.includes(name) || name.startsWith("utm_") || (codes.includes(name) && REFERRAL_CODE.test(value)));
    url.username = url.password = url.hash = "";
    url.search = new URLSearchParams(kept).toString();
    return url.href;
  } catch {
    return "";
  }
}
