// Entry of dist/reftrack.js, the file the script tag loads: the first file of two (landing.ts says why).
import { land } from "./landing.js";

land(window, document.currentScript);
