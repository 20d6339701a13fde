// What reftrack keeps of a page address. Query strings and fragments carry secrets (a password reset's `?token=`, an
// OAuth `#access_token=`, an address's `user:pass@`), so only what attribution needs leaves the page.

/**
 * Origin and path, with only the query parameters named in `keep` and `utm_*` ones; no fragment, no userinfo.
 * "" for anything that is not a URL (an empty referrer, say).
 */
export function scrubUrl(href: string, keep: readonly string[]): string {
  try {
    const url = new URL(href);
    const kept = [...url.searchParams].filter(([name]) => keep.includes(name) || name.startsWith("utm_"));
    url.username = url.password = url.hash = "";
    url.search = new URLSearchParams(kept).toString();
    return url.href;
  } catch {
    return "";
  }
}
