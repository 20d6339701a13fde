// dist/reftrack.js: what every page view runs. It captures and stores the referral, keeps the referral form field
// current, and holds every command and tracked interaction, synchronously, until the full tracker (a second file,
// pinned by its sha384) arrives. That file is fetched only when the page first tracks, or when an earlier page left
// something to send: a visitor who only looks downloads and runs this file alone.
import { CONSENT_KEY, initialConsent, isConsentChoice, strictest, type ConsentChoice, type ConsentState } from "./consent.js";
import { expiredReferralCookie, readReferralCookie, referralCookie } from "./cookie.js";
import { clickAction, submitAction } from "./elements.js";
import { pageContext } from "./event.js";
import { fillReferralFields, watchReferralForms } from "./form-referral.js";
import { alreadyInCharge, COMMANDS, copy, HANDOFF, markInCharge, METHODS, type Handoff, type Pending, type Unchecked } from "./handoff.js";
import { keptCommands, madeEarlier, webStorage } from "./kept.js";
import { randomId } from "./ids.js";
import { clearOutboxes, CONSENT_STATE_KEY, stateStore } from "./remembered.js";
import { cookieChoice, readCookies, setChoiceCookie, setWaiting, somethingWaits, writeCookie } from "./state-cookie.js";
import { scrubUrl } from "./page-url.js";
import { chooseReferral, findReferralCode, isLive, newReferral, REFERRAL_PARAM, watchNavigation, withoutParam, type Referral } from "./referral.js";

interface LandingWindow extends Window {
  reftrack?: unknown;
}

type Deferred = { resolve: (value: unknown) => void; reject: (reason: unknown) => void };

/** The settings this file needs, read plainly; the tracker reads every attribute again and reports bad values. */
function readSettings(script: Element) {
  const attr = (name: string) => script.getAttribute(`data-${name}`);
  const flag = (name: string, fallback: boolean) => ({ "": true, true: true, false: false })[attr(name) ?? "?"] ?? fallback;
  const list = (name: string, fallback: string[]) => {
    const items = (attr(name) ?? "").split(",").map((item) => item.trim()).filter((item) => REFERRAL_PARAM.test(item));
    return items.length > 0 ? items : fallback;
  };
  const days = Number(attr("attribution-days") ?? 30);
  const prefix = attr("attr-prefix") ?? "";
  const consent = attr("consent");
  return {
    params: list("referral-params", ["ref", "referral", "referral_code", "via"]),
    keep: list("keep-params", []),
    attribution: attr("attribution") === "first" ? ("first" as const) : ("last" as const),
    days: days >= 0.001 && days <= 3650 ? days : 30,
    cleanUrl: flag("clean-url", false),
    cookie: flag("referral-cookie", true),
    cookieDomain: attr("cookie-domain") ?? undefined,
    prefix: /^data-[a-z0-9]+(-[a-z0-9]+)*$/.test(prefix) ? prefix : "data-track",
    // Anything but a clear "not-required" where the attribute is set counts as required, as the tracker does.
    consent: consent === null || consent === "not-required" ? ("not-required" as const) : ("required" as const),
    respectGpc: flag("respect-gpc", true),
  };
}

export function land(win: LandingWindow, script: Element | null): void {
  try {
    if (!script) throw new Error("reftrack.js cannot find its own <script> element: load it with a plain <script src> tag");
    const existing = win.reftrack as { q?: unknown } | undefined;
    if (alreadyInCharge(existing, script)) return;
    const stub = existing && Array.isArray(existing.q) ? (existing.q as ArrayLike<unknown>[]) : [];
    win.reftrack = startLanding(win, script, stub);
  } catch (error) {
    console.error(`[reftrack] did not start: ${(error as Error).message}`);
  }
}

function startLanding(win: LandingWindow, script: Element, stub: ArrayLike<unknown>[]) {
  const settings = readSettings(script);
  const doc = win.document;
  const kept = webStorage(win);
  const device = stateStore(win);
  const now = () => Date.now();
  const scope = { domain: settings.cookieDomain, secure: win.location.protocol === "https:" };
  // Commands and interactions before the tracker: kept in order, and across a navigation where storage is allowed;
  // per destination, as the outbox is: what was made for one endpoint never goes to another.
  const app = script.getAttribute("data-voucherify-app-id");
  const commands = keptCommands(win, (app && script.getAttribute("data-voucherify-client-token") ? app : script.getAttribute("data-endpoint")) ?? "", scope.secure);

  /**
   * Null until the device's answer (remembered.ts) or a command that cannot wait for it; meanwhile the codes the page
   * brought wait in `early`, and nothing is stored, filled in or sent.
   */
  let consent: ConsentState | null = null;
  /** The choice behind it, for the tracker: it starts from the strictest of every copy this file saw. */
  let known: ConsentChoice | null = null;
  let early: Referral | null = null;
  const isGranted = () => consent === "granted";
  let view: Referral | null = null;
  /** The code a form hands to the site's server, as things stand (the choice already known and followed). */
  const liveCode = () => (isGranted() && isLive(view, now()) ? view.code : "");
  // A form submitted before IndexedDB answers, or after another tab's refusal, gets it right all the same.
  const code = () => {
    upToDate();
    return liveCode();
  };
  /** The newest capture, landing URL or SPA navigation: what the tracker adopts when it arrives. */
  let latest: Referral | null = null;

  const capture = (): Referral | null => {
    const href = win.location.href;
    const found = findReferralCode(href, settings.params);
    if (!found.found) return null;
    if (settings.cleanUrl) win.history.replaceState(win.history.state, "", withoutParam(href, found.param));
    return newReferral(found.code, found.param, scrubUrl(href, settings.keep, settings.params), now(), settings.days);
  };
  const onCapture = (captured: Referral | null) => {
    if (consent === null) early = chooseReferral(early, captured, settings.attribution, now());
    else if (!refusedElsewhere()) keep(captured);
  };
  const cookieReferral = (from = readCookies(doc)) => (settings.cookie ? readReferralCookie(from, now(), settings.days) : null);

  /** What the device remembers decides; then the codes this page brought are kept, as the tracker would keep them. */
  const decide = (choice: unknown, stored: Referral | null) => {
    known = isConsentChoice(choice) ? choice : null;
    consent = initialConsent(settings, known, win.navigator);
    view = consent === "denied" ? null : chooseReferral(stored, null, settings.attribution, now());
    keep(early);
    early = null;
  };
  /**
   * Whatever cannot wait for IndexedDB (a command, a form submitted, the page going away, an IndexedDB slower than
   * 150 ms) decides from the synchronous copies, the tracker's localStorage one included.
   */
  const decideNow = () => {
    if (consent !== null) return;
    const cookies = readCookies(doc);
    decide(strictest(cookieChoice(cookies), kept.read(CONSENT_KEY)), cookieReferral(cookies));
    sendWhatWaits(cookies);
  };
  /** What an earlier page left (commands, or events in the outbox; state-cookie.ts) goes out once the choice allows. */
  const sendWhatWaits = (cookies: string) => {
    if (isGranted() && somethingWaits(cookies)) load();
  };

  /**
   * Another tab's refusal, seen in the cookie it wrote, is followed before anything more is stored here. (Not a
   * `storage` listener: in Chromium, listening opens localStorage, the very cost this file avoids at landing.)
   */
  const refusedElsewhere = () => {
    if (consent !== "denied" && cookieChoice(readCookies(doc)) === "denied") choose(false);
    return consent === "denied";
  };
  /** Before an answer that cannot wait: decided if it was not (which reads the cookie's refusal too), or followed. */
  const upToDate = () => (consent === null ? decideNow() : void refusedElsewhere());

  /**
   * The referral is stored now, as the tracker would: the cookie at once, IndexedDB in the same breath. Its callers
   * have just read the choice (decide) or followed another tab's refusal (onCapture).
   */
  const keep = (captured: Referral | null) => {
    if (consent === "denied") return;
    view = chooseReferral(view, captured, settings.attribution, now());
    fillReferralFields(doc, settings.prefix, liveCode(), () => undefined);
    if (captured) latest = captured;
    if (!isGranted() || !captured) return;
    if (settings.cookie && view) writeCookie(doc, referralCookie(view, scope, now()));
    void device.update<Referral>("referral", (stored) => {
      const chosen = chooseReferral(stored ?? null, captured, settings.attribution, now());
      return chosen && chosen !== stored ? chosen : undefined;
    });
  };
  onCapture(capture());

  const stored = commands.read;
  const queue: Unchecked[] = [];
  const waiting = new Map<string, Deferred>();
  const persisted = new Set<string>();
  const persist = (entry: Unchecked) => {
    if (isGranted() && !refusedElsewhere() && commands.add([entry])) persisted.add(entry.id);
  };
  const record = (entry: Pending): Promise<unknown> => {
    decideNow();
    queue.push(entry);
    persist(entry);
    load();
    const promise = new Promise((resolve, reject) => waiting.set(entry.id, { resolve, reject }));
    // Queued one-line calls rarely handle rejections: the tracker reports them; none may go unhandled here.
    promise.catch(() => undefined);
    return promise;
  };
  const id = () => randomId(win.crypto);
  const page = () => pageContext(doc, settings.keep, settings.params);

  /** Commands an earlier page kept: taken in before the tracker is fetched, however this page came to fetch it. */
  const opened = now();
  let adopted = false;
  const adoptEarlier = () => {
    if (adopted || !isGranted()) return;
    adopted = true;
    const mine = new Set(queue.map((entry) => entry.id));
    queue.unshift(...stored().filter((entry) => !mine.has(entry.id) && madeEarlier(entry, opened, now())));
  };
  let loading = false;
  const load = () => {
    if (loading) return;
    decideNow();
    adoptEarlier();
    loading = true;
    // Whatever the page's policies refuse (Trusted Types, say), nothing is thrown at the page: the commands wait.
    try {
      fetchTracker();
    } catch (error) {
      loading = false;
      console.warn(`[reftrack] could not load the tracker (${(error as Error).message}); what was tracked waits for a page where it loads`);
      settleUnloaded(error as Error);
    }
  };
  /** Kept in storage: queued for good, it resolves, and is checked once the tracker is here. Memory only: refused. */
  const settleUnloaded = (error: Error) => {
    for (const [entry, deferred] of waiting) {
      const made = queue.find((item) => item.id === entry);
      if (persisted.has(entry)) deferred.resolve(made?.kind === "call" ? undefined : { id: entry });
      else deferred.reject(error);
    }
    waiting.clear();
  };
  const fetchTracker = () => {
    const full = doc.createElement("script");
    full.src = trustedUrl(win, new URL(__REFTRACK_FULL_FILE__, (script as HTMLScriptElement).src || win.location.href).href) as string;
    full.integrity = __REFTRACK_FULL_INTEGRITY__;
    full.crossOrigin = "anonymous";
    full.async = true;
    // Under a nonce-based Content-Security-Policy the second file needs this file's nonce; 'strict-dynamic' trusts it.
    full.nonce = (script as HTMLScriptElement).nonce ?? "";
    full.onerror = () => {
      full.remove();
      loading = false;
      // Offline, say. What is kept in storage is queued for good: it resolves, and is checked once the tracker is
      // here (a failed check then reaches onError). What only memory holds cannot be promised.
      const error = new Error(`reftrack could not load ${full.src}: it tries again when the browser is back online`);
      console.warn(`[reftrack] ${error.message}`);
      settleUnloaded(error);
      win.addEventListener("online", load, { once: true });
    };
    doc.head.append(full);
  };

  // A tracked element about to be used: fetch the tracker now, so it is there by the click.
  const prefetch = (event: Event) => {
    const target = event.target as Element | null;
    if (typeof target?.closest === "function" && target.closest(`[${settings.prefix}]`)) load();
  };
  const onClick = (event: Event) => {
    const action = clickAction(event.target, settings.prefix);
    if (action) void record({ kind: "element", id: id(), at: now(), page: page(), action });
  };
  const onSubmit = (event: Event) => {
    const action = submitAction(event.target, settings.prefix, () => undefined);
    if (action) void record({ kind: "element", id: id(), at: now(), page: page(), action });
  };
  const listeners: [string, (event: Event) => void][] = [["pointerdown", prefetch], ["focusin", prefetch], ["click", onClick], ["submit", onSubmit]];
  for (const [type, listener] of listeners) doc.addEventListener(type, listener, true);
  const stopForms = watchReferralForms(doc, settings.prefix, code, () => undefined, () => undefined);
  const stopNavigation = watchNavigation(win, () => onCapture(capture()));
  // The page going away before IndexedDB answered still leaves the code in the cookie for the site's server.
  win.addEventListener("pagehide", decideNow);
  // A slow IndexedDB (a busy machine, a page that took long to close) must not hold back the page's choice, nor what
  // an earlier page left to send, while the visitor may leave again: past this, the synchronous copies decide. A
  // prompt answer (a few milliseconds) makes it a no-op.
  win.setTimeout(decideNow, 150);

  // Once the tracker stands, a page that kept a reference to this API talks to the tracker's.
  let successor: ((command: unknown, ...args: unknown[]) => unknown) | null = null;
  const call = (command: unknown, args: unknown[]): unknown => {
    if (successor) return successor(command, ...args);
    if (command === "referral") {
      upToDate();
      return isLive(view, now()) ? { ...view } : null;
    }
    if (command === "consent" && typeof args[0] === "boolean") choose(args[0]);
    if (command === "track") return record({ kind: "track", id: id(), at: now(), page: page(), name: args[0], metadata: copy(args[1]) });
    if (typeof command === "string" && COMMANDS.includes(command)) return record({ kind: "call", id: id(), at: now(), command, args: args.map(copy) });
    console.warn(`[reftrack] Unknown command ${JSON.stringify(command)} (known: ${METHODS.join(", ")})`);
    return undefined;
  };
  // The global's methods: each the same as the call by name (CONTRACT section 2).
  const methods: Record<string, (...args: unknown[]) => unknown> = {};
  for (const method of METHODS) methods[method] = (...args) => call(method, args);
  const api = Object.assign((command: unknown, ...args: unknown[]) => call(command, args), methods, { version: __REFTRACK_VERSION__ });
  /**
   * The visitor's choice counts at once, even if the page reloads before the tracker is here: it is remembered as the
   * tracker remembers it; a refusal deletes what this file kept, and a grant keeps what waited in memory.
   */
  const choose = (granted: boolean) => {
    decideNow();
    kept.write(CONSENT_KEY, granted ? "granted" : "denied");
    setChoiceCookie(doc, granted ? "granted" : "denied", scope.secure);
    consent = known = granted ? "granted" : "denied";
    if (granted) {
      void device.write((objects) => objects.put("granted", CONSENT_STATE_KEY));
      for (const entry of queue) persist(entry);
      return;
    }
    // The refusal is all the device keeps: the next page reads it there before it stores anything.
    void device.write((objects) => {
      objects.clear();
      objects.put("denied", CONSENT_STATE_KEY);
    });
    commands.clear();
    setWaiting(doc, "backlog", false, scope.secure);
    persisted.clear();
    view = latest = null;
    writeCookie(doc, expiredReferralCookie(scope));
    fillReferralFields(doc, settings.prefix, "", () => undefined);
    // Events an earlier page queued (customers' details among them) go too, whichever destination they were for.
    clearOutboxes(win);
  };

  const handoff: Handoff = {
    script,
    get captured() {
      return latest;
    },
    get choice() {
      return known;
    },
    takeOver(tracker) {
      successor = tracker;
      for (const [type, listener] of listeners) doc.removeEventListener(type, listener, true);
      win.removeEventListener("pagehide", decideNow);
      stopForms();
      stopNavigation();
      const pending = queue.splice(0);
      // Nothing of this destination's left to take: the flag goes, whatever else is kept on the device.
      if (stored().length === 0) setWaiting(doc, "pending", false, scope.secure);
      return {
        pending,
        settle(entry, outcome) {
          const deferred = waiting.get(entry);
          waiting.delete(entry);
          // An entry of an earlier page has no promise here: its failure was reported, and goes no further.
          void outcome
            .then(deferred?.resolve ?? noop, deferred?.reject ?? noop)
            // Done with it, this page or another: no later page replays it.
            .finally(() => isGranted() && commands.remove(entry));
        },
      };
    },
  };
  Object.defineProperty(api, HANDOFF, { value: handoff });
  markInCharge(api, script);
  for (const args of stub) call(Array.from(args)[0], Array.from(args).slice(1));
  // What the device remembers decides consent and the referral; what an earlier page left (commands, or events in the
  // outbox) goes out then. Where IndexedDB is unusable, the synchronous copies answer. The page's one synchronous
  // storage read, `document.cookie`, waits for this too: the first one of a page costs most while the page is loading.
  void device
    .read()
    .then((remembered) => {
      if (successor) return; // the tracker is here already, and reads its own state
      const cookies = readCookies(doc);
      // The cookie's copy of the choice is the one a page that went away at once managed to write.
      const choice = strictest(remembered?.choice, cookieChoice(cookies));
      // As the tracker does: the cookie stands in where IndexedDB lost the referral, or a sibling subdomain set it.
      if (consent === null && remembered) decide(choice, remembered.referral ?? cookieReferral(cookies));
      else if (consent === null) decideNow();
      else if (choice === "denied" && consent !== "denied") choose(false); // a command decided from localStorage alone
      else if (remembered && consent !== "denied") {
        view = chooseReferral(remembered.referral, view, settings.attribution, now());
        fillReferralFields(doc, settings.prefix, liveCode(), () => undefined);
      }
      sendWhatWaits(cookies);
    })
    .catch(noop);
  return api;
}

const noop = () => undefined;

type ScriptUrlPolicy = { createScriptURL(url: string): unknown };
let policy: ScriptUrlPolicy | null = null;

/**
 * Under Trusted Types a script URL must come from a policy (a site allows it as `trusted-types reftrack`); one policy
 * per page, since a second of the same name is refused. Elsewhere the string serves.
 */
function trustedUrl(win: Window, url: string): unknown {
  const types = (win as Window & { trustedTypes?: { createPolicy(name: string, rules: { createScriptURL(url: string): string }): ScriptUrlPolicy } }).trustedTypes;
  if (!types) return url;
  policy ??= types.createPolicy("reftrack", { createScriptURL: (given) => given });
  return policy.createScriptURL(url);
}
