// `data-track` elements (CONTRACT section 5): what a click or a submit says, and the delegated listeners that hear it.

/** What a tracked element asks for. Values are still strings (or a checkbox's boolean): the schema converts them. */
export interface ElementAction {
  name: string;
  metadata: Record<string, string | boolean>;
  /** Set when a form with `PREFIX-identify` names its customer through its `source_id`, `email` or `name` fields. */
  customer: Record<string, string> | null;
}

const IDENTITY_FIELDS = ["source_id", "email", "name"];

const propertyName = (suffix: string): string => suffix.replace(/-/g, "_");

/** Suffixes that configure reftrack rather than name a property. */
const RESERVED = ["", "identify", "field", "referral"];

/** `PREFIX-network="x"` → `{ network: "x" }`; the element's own `PREFIX`, `-identify`, `-field` and `-referral` are not metadata. */
export function attributeMetadata(element: Element, prefix: string): Record<string, string> {
  const metadata: Record<string, string> = {};
  const start = `${prefix}-`;
  for (const { name, value } of Array.from(element.attributes)) {
    if (!name.startsWith(start)) continue;
    const suffix = name.slice(start.length);
    if (RESERVED.includes(suffix)) continue;
    metadata[propertyName(suffix)] = value;
  }
  return metadata;
}

type Log = (message: string) => void;

/** Only inputs marked `PREFIX-field` are read, and of those never one that `secretIn` names. */
export function formFields(form: HTMLFormElement, prefix: string, log: Log): Record<string, string | boolean> {
  const fields: Record<string, string | boolean> = {};
  for (const control of Array.from(form.elements)) {
    const key = control.getAttribute(`${prefix}-field`)?.trim();
    if (!key) continue;
    const secret = secretIn(control);
    if (secret) {
      log(`field "${key}" skipped: ${secret} is never read`);
      continue;
    }
    const value = controlValue(control);
    if (value !== undefined) fields[propertyName(key)] = value;
  }
  return fields;
}

/**
 * What marks a control as a secret (`type="password"`, `autocomplete="cc-number"`), or "" when it may be read: payment
 * details, one-time codes and passwords, by the hints browsers and password managers rely on. A "show password"
 * toggle turns a password into type=text, but its autocomplete token still says what it is.
 */
export function secretIn(control: Element): string {
  // Local names rather than instanceof: the form may come from another frame's realm; and an XHTML page's tagName is
  // lower case, so no `tagName === "INPUT"` either.
  const type = control.localName === "input" ? (control as HTMLInputElement).type : "";
  const autocomplete = control.getAttribute("autocomplete") ?? "";
  if (/^(password|file|hidden)$/.test(type)) return `type="${type}"`;
  return /(^|\s)(cc-|one-time-code(\s|$))|password/i.test(autocomplete) ? `autocomplete="${autocomplete}"` : "";
}

function controlValue(control: Element): string | boolean | undefined {
  if (control.localName === "input") {
    const input = control as HTMLInputElement;
    if (input.type === "checkbox") return input.checked;
    if (input.type === "radio") return input.checked ? input.value : undefined;
    return input.value;
  }
  if ("value" in control && typeof control.value === "string") return control.value;
  return undefined;
}

export function clickAction(target: EventTarget | null, prefix: string): ElementAction | null {
  if (!target || !("closest" in target) || typeof target.closest !== "function") return null;
  const element = (target as Element).closest(`[${prefix}]`);
  // Forms are tracked on submit, not on every click inside them.
  if (!element || element.localName === "form") return null;
  const name = element.getAttribute(prefix);
  return name ? { name, metadata: attributeMetadata(element, prefix), customer: null } : null;
}

export function submitAction(target: EventTarget | null, prefix: string, log: Log): ElementAction | null {
  if (!target || (target as Element).localName !== "form") return null;
  const form = target as HTMLFormElement;
  const name = form.getAttribute(prefix);
  if (!name) return null;
  const metadata: Record<string, string | boolean> = { ...attributeMetadata(form, prefix), ...formFields(form, prefix, log) };
  if (!form.hasAttribute(`${prefix}-identify`)) return { name, metadata, customer: null };
  const customer: Record<string, string> = {};
  for (const field of IDENTITY_FIELDS) {
    const value = metadata[field];
    delete metadata[field];
    if (typeof value === "string" && value.trim() !== "") customer[field] = value.trim();
  }
  customer.source_id ??= customer.email ?? "";
  return { name, metadata, customer };
}

/**
 * Listens on the document in the capture phase, so a page handler that stops propagation cannot hide an event,
 * and elements added later need no listener of their own. Nothing thrown here reaches the page.
 */
export function watchElements(doc: Document, prefix: string, onAction: (action: ElementAction) => void, onError: (error: unknown) => void, log: Log): () => void {
  const listen = (type: "click" | "submit", read: (target: EventTarget | null, prefix: string, log: Log) => ElementAction | null) => {
    const listener = (event: Event) => {
      try {
        const action = read(event.target, prefix, log);
        if (action) onAction(action);
      } catch (error) {
        onError(error);
      }
    };
    doc.addEventListener(type, listener, true);
    return () => doc.removeEventListener(type, listener, true);
  };
  const stops = [listen("click", clickAction), listen("submit", submitAction)];
  return () => stops.forEach((stop) => stop());
}
