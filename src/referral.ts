// Referral capture: which code the visitor came with, and whether it still counts.
// Pure functions on URLs and records, plus the one browser edge (history hooks) at the bottom.

/** What reftrack keeps about a captured referral code. Times are ISO strings so the stored record reads plainly. */
export interface Referral {
  code: string;
  param: string;
  captured_at: string;
  expires_at: string;
  landing_url: string;
}

export type Attribution = "first" | "last";

/** 1 to 64 letters, digits, `-`, `_` or `.`: every real program's codes fit, and nothing that could be markup does. */
export const REFERRAL_CODE = /^[A-Za-z0-9._-]{1,64}$/;
/** The name of a query parameter that carries a code (`ref`, `via`, …): the same characters. */
export const REFERRAL_PARAM = /^[A-Za-z0-9._-]{1,64}$/;

export type CodeInUrl =
  | { found: true; code: string; param: string }
  | { found: false; ignored: { param: string; value: string }[] };

/** Reads the first configured parameter that carries a valid code; invalid values are returned so they can be logged. */
export function findReferralCode(url: string, params: readonly string[]): CodeInUrl {
  const ignored: { param: string; value: string }[] = [];
  let search: URLSearchParams;
  try {
    search = new URL(url).searchParams;
  } catch {
    return { found: false, ignored };
  }
  for (const param of params) {
    const value = search.get(param);
    if (value === null) continue;
    if (REFERRAL_CODE.test(value)) return { found: true, code: value, param };
    ignored.push({ param, value: value.slice(0, 80) });
  }
  return { found: false, ignored };
}

const DAY_MS = 86_400_000;

export function newReferral(code: string, param: string, landingUrl: string, now: number, days: number): Referral {
  return {
    code,
    param,
    captured_at: new Date(now).toISOString(),
    expires_at: new Date(now + days * DAY_MS).toISOString(),
    landing_url: landingUrl,
  };
}

export function isLive(referral: Referral | null | undefined, now: number): referral is Referral {
  return !!referral && Date.parse(referral.expires_at) > now;
}

/**
 * The referral that counts after a visit: under `first` a live code is never replaced; under `last` a newer code
 * (or the same code again, which restarts its window) replaces it. Expired codes count for nothing.
 */
export function chooseReferral(stored: Referral | null, captured: Referral | null, attribution: Attribution, now: number): Referral | null {
  const live = isLive(stored, now) ? stored : null;
  if (!captured) return live;
  if (attribution === "first" && live) return live;
  return captured;
}

/** The same URL without `param`, for `data-clean-url`; everything else (other params, hash) is kept as it was. */
export function withoutParam(url: string, param: string): string {
  const parsed = new URL(url);
  parsed.searchParams.delete(param);
  return parsed.toString();
}

interface NavigationHooks {
  listeners: Set<() => void>;
  uninstall: () => void;
}

/** One set of history hooks per window, however many trackers listen: installed once, chained, removable. */
const installed = new WeakMap<Window, NavigationHooks>();

function install(win: Window): NavigationHooks {
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((listener) => listener());
  const history = win.history;
  const originalPush = history.pushState;
  const originalReplace = history.replaceState;
  // Each wrapper calls whatever the method was when reftrack arrived: the page's own hook, if it had one.
  const wrap = (original: History["pushState"]): History["pushState"] =>
    function (this: History, ...args: Parameters<History["pushState"]>) {
      const result = original.apply(this, args);
      notify();
      return result;
    };
  const pushState = wrap(originalPush);
  const replaceState = wrap(originalReplace);
  history.pushState = pushState;
  history.replaceState = replaceState;
  win.addEventListener("popstate", notify);
  return {
    listeners,
    uninstall() {
      // A page that wrapped our hook since holds a reference to it: restoring would cut its chain, so ours stays,
      // calling nobody.
      if (history.pushState === pushState) history.pushState = originalPush;
      if (history.replaceState === replaceState) history.replaceState = originalReplace;
      win.removeEventListener("popstate", notify);
    },
  };
}

/**
 * Calls `onNavigate` after every single-page-app navigation (`pushState`, `replaceState`, `popstate`).
 * The page's own history methods keep working; the returned function stops listening, and the last one to stop
 * restores them.
 */
export function watchNavigation(win: Window, onNavigate: () => void): () => void {
  let hooks = installed.get(win);
  if (!hooks) {
    hooks = install(win);
    installed.set(win, hooks);
  }
  const listener = () => onNavigate();
  hooks.listeners.add(listener);
  return () => {
    const current = installed.get(win);
    if (!current) return;
    current.listeners.delete(listener);
    if (current.listeners.size === 0) {
      current.uninstall();
      installed.delete(win);
    }
  };
}
