// The tracker: referral, identity, schema, consent and delivery composed behind the methods of CONTRACT sections 2 and 3.
// Every browser edge (window, fetch, storage, clock, ids) can be passed in, so the whole of it runs in unit tests.
import { watchElements, type ElementAction } from "./elements.js";
import { buildEvent, pageContext, type PageContext, type WireEvent } from "./event.js";
import { anonymousCustomer, checkCustomer, randomId, type Customer } from "./identity.js";
import { resolveSettings, type TrackerOptions } from "./options.js";
import { chooseReferral, findReferralCode, isLive, newReferral, watchNavigation, withoutParam, type Referral } from "./referral.js";
import { compileSchema, schemaless, ValidationError, type EventChecker, type EventNameOf, type MetadataArgs, type SchemaDocument } from "./schema.js";
import { localLock, leaseLock, webLock, type SendLock } from "./lock.js";
import { DEFAULT_BOUNDS, memoryOutbox, resilientOutbox, type Outbox } from "./outbox.js";
import { createSender, type SendState } from "./sender.js";
import { browserStore, errorMessage, memoryStore, switchable, webStorageCell, type KeyValueStore } from "./storage.js";
import { CONSENT_KEY, ConsentError, initialConsent, isConsentChoice, strictest, type ConsentChoice, type PrivacySignals } from "./consent.js";
import { expiredReferralCookie, readReferralCookie, referralCookie, type CookieScope } from "./cookie.js";
import { fillReferralFields, watchReferralForms } from "./form-referral.js";
import { byteLength, collectorDestination, MAX_EVENT_BYTES, voucherifyDestination, type Destination } from "./transport.js";
import { scrubUrl } from "./page-url.js";
import { mask } from "./mask.js";
import { createStore } from "idb-keyval";
import { copy, isPending, PENDING_KEY, type Pending } from "./handoff.js";
import { holdUntilWritten, keptCommands, madeEarlier, type KeptCommands } from "./kept.js";
import { clearOutboxes, CONSENT_STATE_KEY, STATE_DB, STATE_STORE } from "./remembered.js";
import { cookieChoice, readCookies, setChoiceCookie, setWaiting, writeCookie } from "./state-cookie.js";
import { serverSideTracker } from "./inert.js";

export interface Tracker<S extends SchemaDocument | undefined = undefined> {
  /** Checks the event against the schema and queues it; rejects with a ValidationError listing every problem. */
  track<N extends EventNameOf<S>>(name: N, ...metadata: MetadataArgs<S, N>): Promise<{ id: string }>;
  /** Sets (and persists) the customer of later events. */
  identify(customer: Customer): Promise<void>;
  /** Sends what waits now; resolves when the endpoint has answered. */
  flush(): Promise<void>;
  /** Forgets the customer and starts a new anonymous id; the referral stays, since it belongs to the visit. */
  reset(): Promise<void>;
  /** The referral attached to events now, or null (also null until stored state has been read). */
  referral(): Referral | null;
  /**
   * The visitor's choice: `true` moves what waited in memory to storage and starts sending; `false` deletes what is
   * stored and queued, and keeps nothing from then on. The choice is remembered.
   */
  consent(granted: boolean): Promise<void>;
  /** Removes every listener and history hook this tracker installed. */
  destroy(): void;
}

/** The browser edges a tracker uses; each defaults to the real one. */
export interface TrackerEdges {
  window: Window;
  fetch: typeof globalThis.fetch;
  store: KeyValueStore;
  outbox: Outbox;
  lock: SendLock;
  now: () => number;
  newId: () => string;
  random: () => number;
  /** The referral the first file captured from the landing URL (see landing.ts); the tracker captures it itself otherwise. */
  captured: Referral | null;
  /** The consent choice the first file decided from, if any (see landing.ts). */
  choice: ConsentChoice | null;
  /** The first file took in what earlier pages kept (kept.ts) and hands it over; the tracker takes it in otherwise. */
  keptTakenIn: boolean;
}

/** When and where a command was made, for one the first file held until the tracker arrived. */
export interface Recorded {
  id: string;
  at: number;
  page: PageContext;
}

/** Builds the event of a command the first file held, with the id, time and page it was made with. */
export const REPLAY = Symbol.for("reftrack.replay");
export type Replay = (entry: Pending) => Promise<unknown>;

/**
 * The outbox, its lock and its shared backoff belong to one destination: events queued for one endpoint must never
 * be drained to another (a site that moves endpoints, or a page of the demo that sends straight to Voucherify).
 */
const scoped = (name: string, destination: Destination) => `${name}:${destination.url}`;

const STATE_KEYS = { anonymousId: "anonymous_id", customer: "customer", referral: "referral" } as const;

export function createTracker<S extends SchemaDocument | undefined = undefined>(
  options: TrackerOptions<S>,
  edges: Partial<TrackerEdges> = {},
): Tracker<S> {
  // Server-side rendering imports and calls this too: there, a tracker that does nothing, never a ReferenceError.
  if (!edges.window && typeof window === "undefined") return serverSideTracker<Tracker<S>>();
  return browserTracker(options, edges);
}

/** `createTracker` where a browser runs for sure (the script tag's file), so that file carries no inert tracker. */
export function browserTracker<S extends SchemaDocument | undefined = undefined>(options: TrackerOptions<S>, edges: Partial<TrackerEdges> = {}): Tracker<S> {
  const onError = options.onError ?? ((error: Error) => console.warn("[reftrack]", error.message, error));
  const settings = resolveSettings({ ...options }, onError);
  const log = settings.debug ? (message: string, detail?: unknown) => console.info("[reftrack]", mask(message), mask(detail ?? "")) : () => {};
  // A declined visitor is not a site's bug: heard in debug mode only.
  const reportUnlessDeclined = (error: unknown) => (error instanceof ConsentError ? log(error.message) : report(error));
  const report = (error: unknown) => {
    const wrapped = error instanceof Error ? error : new Error(errorMessage(error));
    log(`error: ${wrapped.message}`);
    // The site's handler runs inside delivery: if it throws, sending must go on and nothing may reach the page.
    try {
      onError(wrapped);
    } catch (thrown) {
      console.warn("[reftrack] onError threw", thrown);
    }
  };

  // Query parameters a sent or stored page URL keeps: the referral's, and those the site asked for.
  const [keep, codes] = [settings.keepParams, settings.referralParams];
  const win = edges.window ?? window;
  const fetch = edges.fetch ?? win.fetch.bind(win);
  // First: a malformed schema object throws here, before any listener is added that would outlive the failed start.
  const schemaLoad = loadChecker(options.schema, fetch, report, () => leaving);
  const now = edges.now ?? Date.now;
  const newId = edges.newId ?? (() => randomId(win.crypto));
  // The state store and the outbox fail for the same reason (IndexedDB blocked, quota): say it once.
  let storageReported = false;
  const storageFailed = (error: unknown) => {
    if (storageReported) return;
    storageReported = true;
    report(new Error(`IndexedDB is unavailable (${errorMessage(error)}); reftrack keeps its state and queued events in memory for this page`));
  };
  const direct = Boolean(settings.voucherifyAppId && settings.voucherifyClientToken);
  const destination = direct
    ? voucherifyDestination(settings.voucherifyApi, settings.voucherifyAppId ?? "", settings.voucherifyClientToken ?? "")
    : collectorDestination(settings.endpoint ?? "");
  const outboxDb = scoped("reftrack-outbox", destination);
  const bounds = { ...DEFAULT_BOUNDS, onDropped: (count: number) => report(new Error(`The outbox was full: the ${count} oldest event(s) were dropped`)) };

  // Until the visitor consents (where the site requires it), state and queue live in memory: nothing touches the
  // device. The persistent stores are made on first need, so a pending visitor's IndexedDB is never opened, and a
  // declined one's holds the refusal alone (rememberChoice).
  const secure = win.location.protocol === "https:";
  const cookieScope: CookieScope = { domain: settings.cookieDomain, secure };
  const sendStateKey = scoped("reftrack:send", destination);
  const consentChoice = webStorageCell(() => win.localStorage, CONSENT_KEY, null, (value): value is ConsentChoice | null => value === null || isConsentChoice(value));
  // Every copy of the choice counts, the first file's reading of them included, and a refusal in any of them wins: a
  // site script that clears localStorage must not undo one.
  const copies = { stored: consentChoice.read(), cookie: cookieChoice(readCookies(win.document)) };
  const startingChoice = strictest(copies.stored, copies.cookie, edges.choice);
  let consent = initialConsent(settings, startingChoice, win.navigator as PrivacySignals);
  /**
   * The latest choice (here, or another tab's), recorded at once, before `consent` follows in its turn: after a refusal
   * nothing may leave or be stored meanwhile; after a grant, what a leaving page holds may be kept and sent.
   */
  let chosen: ConsentChoice | null = null;
  const refused = () => consent === "denied" || chosen === "denied";
  const persistentStore = once(() => edges.store ?? browserStore(STATE_DB, STATE_STORE, storageFailed));
  const persistentOutbox = once(() => edges.outbox ?? resilientOutbox(outboxDb, bounds, storageFailed));
  const store = switchable<KeyValueStore>(consent === "granted" ? persistentStore() : memoryStore());
  const outbox = switchable<Outbox>(consent === "granted" ? persistentOutbox() : memoryOutbox(bounds));
  const tabId = newId();
  const sender = createSender({
    shared: webStorageCell(() => win.localStorage, sendStateKey, { retryAt: 0, starts: [] }, isSendState),
    destination,
    batchSize: settings.batchSize,
    flushMs: settings.flushMs,
    outbox: outbox.api,
    lock: edges.lock ?? sendLock(win, outboxDb, tabId, now),
    tabId,
    fetch,
    sendBeacon: typeof win.navigator.sendBeacon === "function" ? (url, body) => win.navigator.sendBeacon(url, body) : null,
    // A leaving page sends what waited for an Accept the visitor just gave, before the grant has had its turn.
    maySend: (exiting) => (consent === "granted" || (exiting === true && chosen === "granted")) && chosen !== "denied" && win.navigator.onLine !== false,
    now,
    random: edges.random ?? Math.random,
    setTimeout: (callback, ms) => win.setTimeout(callback, ms),
    clearTimeout: (handle) => win.clearTimeout(handle as number),
    onError: report,
    log,
    // The next page's first file loads the tracker at once while something waits here; not while nothing does.
    onBacklog: (waiting) => consent === "granted" && chosen !== "denied" && setWaiting(win.document, "backlog", waiting, secure),
  });

  // What the tracker accepted but its sender does not hold yet survives the page going away (kept.ts). Keyed as the
  // first file keys it: by where events go.
  const commands = keptCommands(win, (direct ? settings.voucherifyAppId : settings.endpoint) ?? "", secure);
  const mayKeep = () => (consent === "granted" || chosen === "granted") && chosen !== "denied" && cookieChoice(readCookies(win.document)) !== "denied";
  const holding = holdUntilWritten(commands, mayKeep, report, MAX_EVENT_BYTES);
  /** Runs a command of the page, held until it is written to the outbox (or failed). */
  const held = <T,>(entry: Pending, run: () => Promise<T>): Promise<T> => {
    const release = holding.hold(entry);
    const outcome = run();
    outcome.then(release, release);
    return outcome;
  };

  let checker: EventChecker = schemaless;
  let anonymousId = "";
  let customer: Customer | null = null;
  let referral: Referral | null = null;

  const capture = (): Referral | null => {
    const href = win.location.href;
    const found = findReferralCode(href, settings.referralParams);
    for (const ignored of found.found ? [] : found.ignored) log(`ignored ?${ignored.param}= (not a referral code)`, ignored.value);
    if (!found.found) return null;
    log(`captured referral ${found.code} from ?${found.param}=`);
    if (settings.cleanUrl) win.history.replaceState(win.history.state, "", withoutParam(href, found.param));
    return newReferral(found.code, found.param, scrubUrl(href, keep, codes), now(), settings.attributionDays);
  };

  const adopt = async (captured: Referral | null) => {
    const chosen = chooseReferral(referral, captured, settings.attribution, now());
    if (chosen === referral) return;
    if (captured && chosen !== captured) log(`kept referral ${referral?.code} (first-touch attribution)`);
    referral = chosen;
    await (chosen ? store.api.set(STATE_KEYS.referral, chosen) : store.api.del(STATE_KEYS.referral));
    mirrorToCookie();
    fillReferralFields(win.document, settings.attrPrefix, referralCode(), log);
  };

  /** The referral lives in a first-party cookie too: the site's server reads it, and so do the site's subdomains. */
  const mirrorToCookie = () => {
    if (!settings.referralCookie || consent !== "granted") return;
    writeCookie(win.document, referral ? referralCookie(referral, cookieScope, now()) : expiredReferralCookie(cookieScope));
  };
  const cookieReferral = () => (settings.referralCookie ? readReferralCookie(readCookies(win.document), now(), settings.attributionDays) : null);

  /**
   * The referral as the page sees it now, for `referral()` and the form field: the adopted one once stored state is
   * read and every capture applied; meanwhile what it will be (the cookie, read synchronously, and the captures since),
   * so a code from the URL or a `pushState` shows as soon as it is there.
   */
  let view: Referral | null = null;
  let adopting = 0;
  const settle = () => {
    if (--adopting === 0) view = referral;
  };
  const anticipate = (captured: Referral | null) => {
    adopting++;
    view = chooseReferral(view, captured, settings.attribution, now());
  };
  /** The code a form hands to the site's server: only where storage is allowed, like the cookie itself. */
  const referralCode = (): string => (consent === "granted" && isLive(view, now()) ? view.code : "");

  const loadState = async () => {
    if (consent === "denied") {
      anonymousId = newId(); // kept nowhere: nothing is tracked
      return;
    }
    referral = (await store.api.get<Referral>(STATE_KEYS.referral)) ?? cookieReferral();
    customer = (await store.api.get<Customer>(STATE_KEYS.customer)) ?? null;
    anonymousId = (await store.api.get<string>(STATE_KEYS.anonymousId)) ?? "";
    if (!anonymousId) {
      anonymousId = newId();
      await store.api.set(STATE_KEYS.anonymousId, anonymousId);
    }
  };

  const decline = async () => {
    consent = "denied";
    sender.forget();
    holding.forget();
    // Each store in use, and the persistent ones if they exist, cleared once: a visitor who declines before ever
    // agreeing gets no database made for it but the one that keeps the refusal (rememberChoice).
    const stores = new Set<KeyValueStore | Outbox>([store.current(), outbox.current()]);
    if (persistentStore.made()) stores.add(persistentStore());
    if (persistentOutbox.made()) stores.add(persistentOutbox());
    await Promise.all([...stores].map((used) => used.clear()));
    store.use(memoryStore());
    outbox.use(memoryOutbox(bounds));
    forgetDevice(win, sendStateKey, outboxDb, cookieScope);
    customer = null;
    referral = null;
    view = null;
    anonymousId = newId();
    fillReferralFields(win.document, settings.attrPrefix, "", log);
    log("consent declined: stored state and queued events deleted");
  };

  const grant = async () => {
    // Switch first, then copy: a write that lands meanwhile goes to storage, and nothing is left behind in memory.
    const [oldStore, oldOutbox] = [store.current(), outbox.current()];
    const [target, targetOutbox] = [persistentStore(), persistentOutbox()];
    store.use(target);
    outbox.use(targetOutbox);
    for (const key of Object.values(STATE_KEYS)) {
      const value = await oldStore.get(key);
      if (value !== undefined && (await target.get(key)) === undefined) await target.set(key, value);
    }
    if ((await target.get(STATE_KEYS.anonymousId)) === undefined) await target.set(STATE_KEYS.anonymousId, anonymousId);
    await targetOutbox.add(await oldOutbox.peek(DEFAULT_BOUNDS.maxEvents));
    consent = "granted";
    mirrorToCookie();
    fillReferralFields(win.document, settings.attrPrefix, referralCode(), log);
    log("consent given: state and queued events kept from now on");
  };

  /** Applies a choice made here or, through the `storage` event, in another tab of the site. */
  const applyConsent = async (granted: boolean) => {
    if (!granted && consent !== "denied") await decline();
    if (granted && consent !== "granted") await grant();
    if (granted) sender.online();
  };

  const setConsent = (granted: unknown) => {
    // `reftrack("consent", "false")` must not read as yes: only a boolean is a choice.
    if (typeof granted !== "boolean") return Promise.reject(new ValidationError("Invalid consent", [{ path: "consent", message: `Expected true or false, but received: ${JSON.stringify(granted)}` }]));
    // Recorded at once, not behind the schema's loading: a page that goes away a moment later must not lose it. A
    // refusal also stops sending and clears what the device holds outside IndexedDB (cookies, kept commands) now.
    consentChoice.write(granted ? "granted" : "denied");
    setChoiceCookie(win.document, granted ? "granted" : "denied", secure);
    chosen = granted ? "granted" : "denied";
    if (!granted) forgetDevice(win, sendStateKey, outboxDb, cookieScope);
    return inOrder(async () => {
      await applyConsent(granted);
      await rememberChoice(granted ? "granted" : "denied");
    });
  };
  const onStorage = (event: StorageEvent) => {
    if (event.key !== CONSENT_KEY || event.newValue === null) return;
    let choice: unknown = null;
    try {
      choice = JSON.parse(event.newValue);
    } catch {
      return; // not ours to read: nothing may throw into the page
    }
    if (!isConsentChoice(choice)) return;
    chosen = choice;
    inOrder(() => applyConsent(choice === "granted").then(() => rememberChoice(choice))).catch(report);
  };
  /**
   * The first file reads the choice from IndexedDB (remembered.ts): kept there too, after whatever a decline cleared,
   * and brought in line with the strictest copy whenever the tracker starts.
   */
  async function rememberChoice(choice: ConsentChoice) {
    const device = persistentStore();
    if ((await device.get(CONSENT_STATE_KEY)) !== choice) await device.set(CONSENT_STATE_KEY, choice);
  }

  // The landing URL is read now, before anything (our own URL cleaning included) can change it.
  const landing = consent === "denied" ? null : edges.captured !== undefined ? edges.captured : capture();
  if (consent !== "denied") view = cookieReferral();
  anticipate(landing);
  let leaving = false;
  const onLeave = () => void (leaving = true);
  const ready = Promise.all([schemaLoad, loadState()])
    .then(([loaded]) => {
      checker = loaded;
      return adopt(landing);
    })
    .finally(settle)
    .then(() => fillReferralFields(win.document, settings.attrPrefix, referralCode(), log))
    .catch(report);

  // Commands run one after another, in the order they were called, once stored state and the schema are in.
  let chain: Promise<unknown> = ready;
  const inOrder = <T,>(command: () => Promise<T>): Promise<T> => {
    const result = chain.then(command);
    chain = result.catch(() => undefined);
    return result;
  };
  if (startingChoice) {
    if (copies.stored !== startingChoice) consentChoice.write(startingChoice);
    if (copies.cookie !== startingChoice) setChoiceCookie(win.document, startingChoice, secure);
    inOrder(() => rememberChoice(startingChoice)).catch(report);
  }
  // A visitor who declined on a page where the tracker never arrived (or left before its clean-up) may have left
  // things behind: they go now, every outbox included.
  if (startingChoice === "denied") forgetDevice(win, sendStateKey, "", cookieScope);

  // The command checks and builds the event in order; its write is awaited outside the chain, so that the events
  // of one tick reach the outbox together, in one transaction.
  const enqueue = (name: unknown, metadata: unknown, convert: boolean, recorded?: Recorded, replayed = false): Promise<{ id: string }> =>
    inOrder(async () => {
      // A refusal (here or in another tab) counts before its clean-up has had its turn: nothing more is stored.
      if (refused()) throw new ConsentError();
      // An event the outbox held already when this page started is not built twice (queuedAtStart).
      if (replayed && recorded && (await queuedAtStart).has(recorded.id)) return { id: recorded.id, written: Promise.resolve() };
      const checked = checker.check({ event: name, metadata, identified: customer !== null }, { convert });
      if (!checked.ok) throw new ValidationError(`Event ${JSON.stringify(name)} rejected`, checked.issues);
      const timestamp = recorded?.at ?? now();
      const event = buildEvent({
        id: recorded?.id ?? newId(),
        name: name as string,
        metadata: checked.metadata,
        now: timestamp,
        anonymousId,
        customer: customer ?? anonymousCustomer(anonymousId),
        referral: isLive(referral, timestamp) ? referral : null,
        page: recorded?.page ?? pageContext(win.document, keep, codes),
        version: __REFTRACK_VERSION__,
      });
      // The JSON text is both the size check and a snapshot: changing metadata after track() changes nothing queued.
      const json = JSON.stringify(event);
      const bytes = byteLength(json);
      if (bytes > MAX_EVENT_BYTES) {
        throw new ValidationError(`Event ${JSON.stringify(name)} rejected`, [
          { path: "", message: `The event is ${bytes} bytes as JSON, over the limit of ${MAX_EVENT_BYTES} bytes for one event` },
        ]);
      }
      log(`queued ${event.event}`, event);
      return { id: event.id, written: sender.enqueue([{ event: JSON.parse(json) as WireEvent, bytes }]) };
    }).then(async ({ id, written }) => {
      await written;
      return { id };
    });

  // Takes unknown: the script tag's queue and forms hand over whatever the page wrote, and checkCustomer decides.
  const identify = (input: unknown) =>
    inOrder(async () => {
      customer = structuredClone(checkCustomer(input));
      if (refused()) return;
      await store.api.set(STATE_KEYS.customer, customer);
      log(`identified ${customer.source_id}`);
    });

  const reset = () =>
    inOrder(async () => {
      customer = null;
      anonymousId = newId();
      await store.api.del(STATE_KEYS.customer);
      if (!refused()) await store.api.set(STATE_KEYS.anonymousId, anonymousId);
      log("reset: new anonymous id");
    });
  const calls: Record<"identify" | "reset", (input?: unknown) => Promise<void>> = { identify, reset };

  // A form that names its customer: if that customer is invalid, the event is not sent as somebody else's.
  const elementEvent = (action: ElementAction, recorded?: Recorded, replayed = false): Promise<unknown> => {
    if (action.customer && !action.customer.source_id) {
      const field = `${settings.attrPrefix}-field`;
      return Promise.reject(new ValidationError(`Form "${action.name}"`, [{ path: "customer.source_id", message: `is empty: a form with ${settings.attrPrefix}-identify names its customer through fields marked ${field}="email" (or ${field}="source_id"); mark the email input, and fill it` }]));
    }
    const identified = action.customer ? identify(action.customer) : Promise.resolve();
    return identified.then(() => enqueue(action.name, action.metadata, true, recorded, replayed));
  };
  /** A command's id, time and page, fixed when it is made: a later page that replays it sends the same event. */
  const recorded = (): Recorded => ({ id: newId(), at: now(), page: pageContext(win.document, keep, codes) });
  const onElement = (action: ElementAction) => {
    const made = recorded();
    held({ kind: "element", ...made, action }, () => elementEvent(action, made)).catch(reportUnlessDeclined);
  };

  // A hidden page may never be shown again (mobile browsers discard background tabs), so it counts as an exit.
  // What is held is kept only when the page goes away (kept.ts); an event a keepalive request carries is not kept too
  // where the destination cannot drop a second copy.
  const onExit = (event: Event) => {
    const unloading = event.type === "pagehide";
    if (!unloading && win.document.visibilityState !== "hidden") return;
    const onTheWire = sender.flushOnExit(unloading);
    if (unloading) holding.save(destination.dedupes ? [] : onTheWire);
  };
  const onShow = (event: Event) => void ((event as PageTransitionEvent).persisted && holding.restore());
  // Chromium freezes a hidden tab before it discards it, with no pagehide: keep then, and take back if it resumes.
  const onFreeze = () => holding.save([]);
  const onResume = () => holding.restore();
  win.document.addEventListener("freeze", onFreeze);
  win.document.addEventListener("resume", onResume);
  const onOnline = () => sender.online();
  // Listeners only now, past every step of the start that can throw: a failed start leaves none behind.
  win.addEventListener("storage", onStorage);
  win.addEventListener("pagehide", onLeave);
  win.document.addEventListener("visibilitychange", onExit);
  win.addEventListener("pagehide", onExit);
  win.addEventListener("pageshow", onShow);
  win.addEventListener("online", onOnline);
  // The ids the outbox held when this page started, before its first drain: read only where an earlier page kept
  // commands for this one (kept.ts), whose last moment may have written some of them to the outbox too.
  const queuedAtStart: Promise<Set<string>> =
    commands.read().length > 0
      ? ready.then(() => outbox.api.peek(DEFAULT_BOUNDS.maxEvents)).then((entries) => new Set(entries.map((entry) => entry.event.id)), () => new Set())
      : Promise.resolve(new Set());
  // What earlier pages left in the outbox goes out as soon as this one is ready.
  void ready.then(() => sender.flush()).catch(report);
  const stopElements = watchElements(win.document, settings.attrPrefix, onElement, report, log);
  const stopForms = watchReferralForms(win.document, settings.attrPrefix, referralCode, log, report);
  // The URL is read when the navigation happens: a second navigation right after may already have changed it.
  const stopNavigation = watchNavigation(win, () => {
    if (consent === "denied") return;
    const captured = capture();
    anticipate(captured);
    fillReferralFields(win.document, settings.attrPrefix, referralCode(), log);
    inOrder(() => adopt(captured))
      .finally(settle)
      .catch(report);
  });

  /**
   * What the first file held, or an earlier page kept: held like the page's own commands, under the same id (the first
   * file may have kept it in memory only, consent pending then).
   */
  const replay: Replay = (entry) => {
    if (entry.kind === "call") {
      const { command, args } = entry;
      if (command === "identify" || command === "reset") return held(entry, () => calls[command](args[0]));
      return (tracker as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[command]?.(...args) ?? Promise.resolve();
    }
    return held(entry, () => (entry.kind === "track" ? enqueue(entry.name, entry.metadata, false, entry, true) : elementEvent(entry.action, entry, true)));
  };
  /** An identify or reset of the page: kept with the events around it, so that none is replayed as someone else's. */
  const call = (command: "identify" | "reset", args: unknown[]) => held({ kind: "call", id: newId(), at: now(), command, args }, () => calls[command](args[0]));

  const tracker: Tracker<S> = {
    track: (name, ...metadata) =>
      attempt(() => {
        // A copy: the page may change its object before the event is built, or the page kept for a later one.
        const [made, snapshot] = [recorded(), copy(metadata[0])];
        return held({ kind: "track", ...made, name, metadata: snapshot }, () => enqueue(name, snapshot, false, made));
      }),
    identify: (input) => attempt(() => call("identify", [copy(input)])),
    // Waits for earlier commands, but later ones never wait for the network.
    flush: () => chain.then(() => sender.flush()),
    reset: () => call("reset", []),
    referral: () => (isLive(view, now()) ? { ...view } : null),
    consent: setConsent as (granted: boolean) => Promise<void>,
    destroy() {
      stopElements();
      stopForms();
      stopNavigation();
      win.document.removeEventListener("visibilitychange", onExit);
      win.removeEventListener("pagehide", onExit);
      win.removeEventListener("pageshow", onShow);
      win.document.removeEventListener("freeze", onFreeze);
      win.document.removeEventListener("resume", onResume);
      win.removeEventListener("pagehide", onLeave);
      win.removeEventListener("online", onOnline);
      win.removeEventListener("storage", onStorage);
    },
  };
  // Not a method of the API: the second file uses it to replay what the first file held.
  Object.defineProperty(tracker, REPLAY, { value: replay });
  if (!edges.keptTakenIn && consent === "granted") takeInKept(commands, now, replay, reportUnlessDeclined);
  return tracker;
}

/**
 * What earlier pages kept (kept.ts), where no first file took it in: an ESM page, or the full file on its own. Each
 * entry leaves storage once it has an outcome; a malformed one is dropped.
 */
function takeInKept(commands: KeptCommands, now: () => number, replay: Replay, report: (error: unknown) => void) {
  const opened = now();
  for (const entry of commands.read()) {
    if (!madeEarlier(entry, opened, now())) continue;
    // Any script of the site can write the list: an entry of the wrong shape is dropped, and none throws at the page.
    void attempt(() => (isPending(entry) ? replay(entry) : Promise.resolve()))
      .catch(report)
      .finally(() => commands.remove(entry.id));
  }
}

/** A promise, whatever `make` does: the page's call never throws. */
export function attempt<T>(make: () => Promise<T>): Promise<T> {
  try {
    return make();
  } catch (error) {
    return Promise.reject(error);
  }
}

const once = <T,>(make: () => T): (() => T) & { made(): boolean } => {
  let made: { value: T } | null = null;
  return Object.assign(() => (made ??= { value: make() }).value, { made: () => made !== null });
};

/**
 * What a declined visitor leaves on the device besides the stores the tracker clears: the shared send state, the
 * referral cookie, and outboxes of other destinations (whose events hold customers' details).
 */
function forgetDevice(win: Window, sendStateKey: string, outboxDb: string, scope: CookieScope): void {
  try {
    win.localStorage.removeItem(sendStateKey);
    // What the first file kept for later pages goes too.
    for (const key of Object.keys(win.localStorage)) if (key.startsWith(`${PENDING_KEY}:`)) win.localStorage.removeItem(key);
  } catch {
    // storage blocked: nothing was kept there
  }
  setWaiting(win.document, "pending", false, scope.secure);
  setWaiting(win.document, "backlog", false, scope.secure);
  writeCookie(win.document, expiredReferralCookie({ secure: scope.secure }));
  if (scope.domain) writeCookie(win.document, expiredReferralCookie(scope));
  clearOutboxes(win, outboxDb);
}

const isSendState = (value: unknown): value is SendState =>
  typeof value === "object" && value !== null && typeof (value as SendState).retryAt === "number" && Array.isArray((value as SendState).starts);

/** One sender across the site's tabs: Web Locks where the browser has them, else a lease in the outbox database. */
function sendLock(win: Window, outboxDb: string, tabId: string, now: () => number): SendLock {
  let lease: SendLock;
  try {
    lease = leaseLock(createStore(outboxDb, "events"), tabId, now);
  } catch {
    lease = localLock();
  }
  const locks = win.navigator.locks;
  return locks && typeof locks.request === "function" ? webLock(locks, outboxDb, lease) : lease;
}

/**
 * The schema as a checker. An object that is not a valid schema throws at once (a programming error); a URL that
 * cannot be loaded or holds a bad schema is reported, and events are then checked as JSON only: the collection
 * endpoint checks them again, and a valid conversion is worth more than a skipped browser-side check.
 */
function loadChecker(schema: unknown, fetch: typeof globalThis.fetch, report: (error: unknown) => void, leaving: () => boolean): Promise<EventChecker> {
  if (schema === undefined || schema === null) return Promise.resolve(schemaless);
  if (typeof schema !== "string") return Promise.resolve(compileSchema(schema));
  return fetch(schema, { credentials: "omit", signal: typeof AbortSignal.timeout === "function" ? AbortSignal.timeout(10_000) : null })
    .then((response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response.json() as Promise<unknown>;
    })
    .then(compileSchema)
    .catch((error: unknown) => {
      // A page going away cuts its fetches short: that says nothing about the schema, and checking as JSON only would
      // let through what the schema refuses. Nothing is checked on this page then; what the first file kept is
      // checked by the next one.
      if (leaving()) return new Promise<EventChecker>(() => undefined);
      report(new Error(`Could not use the event schema at ${schema} (${errorMessage(error)}); events are checked as JSON only`));
      return schemaless;
    });
}

