// Consent: whether reftrack may store anything on the visitor's device and send anything. Pure decisions here; the
// tracker applies them (memory only while pending, everything cleared when declined).

export type ConsentState = "granted" | "pending" | "denied";
export type ConsentChoice = "granted" | "denied";

export interface ConsentSettings {
  /** `required`: nothing is stored or sent until the visitor agrees. */
  consent: "required" | "not-required";
  /** Treat Global Privacy Control and Do Not Track as a refusal, until the visitor says otherwise. */
  respectGpc: boolean;
}

export interface PrivacySignals {
  globalPrivacyControl?: boolean;
  doNotTrack?: string | null;
}

/** The visitor's own choice wins; then a browser-wide privacy signal (if the site honours it); then the site's rule. */
export function initialConsent(settings: ConsentSettings, choice: ConsentChoice | null, signals: PrivacySignals): ConsentState {
  if (choice) return choice;
  if (settings.respectGpc && (signals.globalPrivacyControl === true || signals.doNotTrack === "1")) return "denied";
  return settings.consent === "required" ? "pending" : "granted";
}

/** Thrown (rejected) by `track` once the visitor declined: reftrack keeps nothing about them. */
export class ConsentError extends Error {
  constructor() {
    super("The visitor declined tracking (consent false, or a privacy signal): the event was not kept");
    this.name = "ConsentError";
  }
}

export const CONSENT_KEY = "reftrack:consent";
export const isConsentChoice = (value: unknown): value is ConsentChoice => value === "granted" || value === "denied";

/** Several copies of one choice (cookie, IndexedDB, localStorage): a refusal in any of them wins, then a grant. */
export const strictest = (...choices: unknown[]): ConsentChoice | null => (choices.includes("denied") ? "denied" : choices.includes("granted") ? "granted" : null);
