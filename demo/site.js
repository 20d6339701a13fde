// Page behaviour for the Lumen demo (index.html, signup.html). Loaded with `defer`; all handlers are attached here
// rather than inline, so the pages keep working under a strict Content-Security-Policy.
(() => {
  "use strict";

  const PLANS = ["free", "pro", "team"];
  const BANNER_POLL_MS = 200;
  const BANNER_GIVE_UP_MS = 5000;

  // reftrack.referral() exists only once the async bundle has loaded, and returns null until it has read its
  // stored state from IndexedDB, so poll briefly instead of asking once.
  function showReferralBanner() {
    const banner = document.getElementById("referral-banner");
    if (!banner) return;
    const startedAt = Date.now();

    const poll = () => {
      const referral = currentReferral();
      if (referral && typeof referral.code === "string" && referral.code !== "") {
        // The code came from a URL: it is untrusted, so it only ever goes in as text.
        banner.textContent = `You were invited with code ${referral.code} — your first month is free.`;
        banner.hidden = false;
        return;
      }
      if (Date.now() - startedAt < BANNER_GIVE_UP_MS) setTimeout(poll, BANNER_POLL_MS);
    };
    poll();
  }

  function currentReferral() {
    const api = window.reftrack;
    if (typeof api?.referral !== "function") return null;
    try {
      return api.referral();
    } catch {
      return null;
    }
  }

  function preselectPlan() {
    const select = document.getElementById("plan");
    if (!select) return;
    const plan = new URLSearchParams(window.location.search).get("plan");
    if (PLANS.includes(plan)) select.value = plan;
  }

  // After Lumen's server created the account (POST /signup), it sends the visitor back here with ?welcome=1.
  function showWelcome() {
    const form = document.getElementById("signup-form");
    const done = document.getElementById("signup-done");
    const params = new URLSearchParams(window.location.search);
    if (!form || !done || params.get("welcome") !== "1") return;
    const plan = params.get("plan");
    const planLabel = document.getElementById("signup-done-plan");
    if (planLabel && PLANS.includes(plan)) planLabel.textContent = plan.charAt(0).toUpperCase() + plan.slice(1);
    form.hidden = true;
    done.hidden = false;
    done.focus();
  }

  // /consent.html: the landing page with data-consent="required" and a banner (hidden in the markup, so a visitor
  // who already chose never sees it flash). Until a button is pressed, reftrack keeps everything in memory and sends
  // nothing; the choice is remembered by reftrack itself, in localStorage, as JSON "granted" or "denied".
  const CONSENT_KEY = "reftrack:consent";

  // The visitor's remembered choice, or null: storage that is blocked, throws, or holds anything else means "no
  // choice yet", so the banner asks again rather than assume.
  function rememberedConsent() {
    try {
      const value = JSON.parse(window.localStorage.getItem(CONSENT_KEY) ?? "null");
      return value === "granted" || value === "denied" ? value : null;
    } catch {
      return null;
    }
  }

  function handleConsentBanner() {
    const banner = document.getElementById("consent-banner");
    if (!banner) return;
    const choose = (granted) => () => {
      window.reftrack("consent", granted);
      banner.hidden = true;
    };
    document.getElementById("consent-accept")?.addEventListener("click", choose(true));
    document.getElementById("consent-decline")?.addEventListener("click", choose(false));
    banner.hidden = rememberedConsent() !== null;
  }

  preselectPlan();
  showWelcome();
  showReferralBanner();
  handleConsentBanner();
})();
