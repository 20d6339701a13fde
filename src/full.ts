// The second file (dist/reftrack.<hash>.js): the full tracker. The first file loads it when the page first tracks,
// and hands over its script element, its captured referral and what was queued meanwhile. Loaded on its own (a page
// that includes it directly), it starts like the script tag always did.
import { HANDOFF, type Handoff } from "./handoff.js";
import { installGlobal } from "./loader.js";

const landing = (window as Window & { reftrack?: Record<symbol, unknown> }).reftrack?.[HANDOFF] as Handoff | undefined;
installGlobal(window, landing?.script ?? document.currentScript, landing);
