// Who is calling: every request is a stranger (a browser) until a secret from the environment says otherwise.
// Secrets are compared in constant time and never logged or echoed.
import { createHash, timingSafeEqual } from "node:crypto";
import type { Sender } from "../schema.js";

/** Shorter secrets can be guessed by a patient client; 24 characters of `openssl rand -hex 32` are far beyond that. */
export const MIN_SECRET_LENGTH = 24;

/** `REFTRACK_SERVER_KEYS`-style lists: comma-separated, blanks ignored; a key too short to be secret stops the start. */
export function parseSecrets(name: string, value: string | undefined): string[] {
  const secrets = (value ?? "").split(",").map((item) => item.trim()).filter((item) => item !== "");
  for (const [index, secret] of secrets.entries()) {
    if (secret.length < MIN_SECRET_LENGTH) {
      throw new Error(`${name}: key ${index + 1} is ${secret.length} characters; each must be at least ${MIN_SECRET_LENGTH} (make one with: openssl rand -hex 32)`);
    }
  }
  return secrets;
}

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * Whether `candidate` is one of `secrets`. Digests make every comparison the same length, and every secret is
 * compared every time, so the answer's timing tells nothing about which secret came close.
 */
export function secretMatcher(secrets: readonly string[]): (candidate: string) => boolean {
  const digests = secrets.map(digest);
  return (candidate) => {
    const presented = digest(candidate);
    let found = false;
    for (const known of digests) found = timingSafeEqual(known, presented) || found;
    return found;
  };
}

/** The token of `Authorization: Bearer <token>`; `undefined` without the header, `null` when it is something else. */
export function bearerToken(header: string | undefined): string | null | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1] ?? null;
}

export type Caller = { sender: Sender } | { refused: string };

/** A batch request: a browser without `Authorization`, the site's server with a key of `REFTRACK_SERVER_KEYS`. */
export function batchCaller(isServerKey: (token: string) => boolean, configured: boolean) {
  return (authorization: string | undefined): Caller => {
    const token = bearerToken(authorization);
    if (token === undefined) return { sender: "browser" };
    if (token !== null && isServerKey(token)) return { sender: "server" };
    return {
      refused: configured
        ? "The server key was refused: send Authorization: Bearer <key> with one of the keys in the collector's REFTRACK_SERVER_KEYS"
        : "This collector has no server keys: set REFTRACK_SERVER_KEYS in its environment (comma-separated) and send one as Authorization: Bearer <key>",
    };
  };
}
