// `<form data-track-referral>` (CONTRACT section 5): the referral code travels with the form to the site's server, in a
// hidden input, so the server that confirms the conversion knows who referred the visitor. Tracked forms or not.

export const DEFAULT_FIELD = "referral_code";
/** Marks the input reftrack made, so it is found again instead of added twice. */
const MARK = "data-reftrack";

/**
 * The form's hidden referral input, created on first need and kept at `code` (`""` when there is none): one, under
 * the name the attribute gives now. A field of the page's own with that name (a code the visitor types, say) is the
 * page's: reftrack's gives way rather than doubling it.
 */
export function fillReferralField(form: HTMLFormElement, prefix: string, code: string, log: (message: string) => void): void {
  const name = form.getAttribute(`${prefix}-referral`)?.trim() || DEFAULT_FIELD;
  const ours = Array.from(form.querySelectorAll<HTMLInputElement>(`input[${MARK}="referral"]`));
  const pages = Array.from(form.elements).filter((control) => control.getAttribute("name") === name && control.getAttribute(MARK) !== "referral");
  if (pages.length > 0) {
    ours.forEach((input) => input.remove());
    return log(`form field "${name}" belongs to the page; ${prefix}-referral="another_name" gives reftrack's field another name`);
  }
  const [kept, ...extra] = ours;
  extra.forEach((input) => input.remove());
  const input = kept ?? form.appendChild(Object.assign(form.ownerDocument.createElement("input"), { type: "hidden" }));
  input.setAttribute(MARK, "referral");
  input.name = name;
  input.value = code;
}

/**
 * Every `PREFIX-referral` form of the document, at start and whenever the referral changes; a field reftrack made in
 * a form that no longer asks for one is emptied, so a code never leaves with it (after a refusal, say).
 */
export function fillReferralFields(doc: Document, prefix: string, code: string, log: (message: string) => void): void {
  doc.querySelectorAll<HTMLInputElement>(`input[${MARK}="referral"]`).forEach((input) => {
    if (!input.form?.hasAttribute(`${prefix}-referral`)) input.value = "";
  });
  doc.querySelectorAll<HTMLFormElement>(`form[${prefix}-referral]`).forEach((form) => fillReferralField(form, prefix, code, log));
}

/**
 * Fills the field as each form is submitted, in the capture phase: the browser reads a form's fields only after its
 * submit event, so forms added after load and `requestSubmit()` carry the code. (`form.submit()` fires no event: the
 * fields filled once the visitor's choice is known, and on every referral change, cover it.)
 */
export function watchReferralForms(doc: Document, prefix: string, code: () => string, log: (message: string) => void, onError: (error: unknown) => void): () => void {
  const listener = (event: Event) => {
    try {
      const form = event.target as Element | null;
      if (form?.localName === "form" && form.hasAttribute(`${prefix}-referral`)) fillReferralField(form as HTMLFormElement, prefix, code(), log);
    } catch (error) {
      onError(error);
    }
  };
  doc.addEventListener("submit", listener, true);
  return () => doc.removeEventListener("submit", listener, true);
}
