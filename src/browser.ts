// Entry of dist/reftrack.js, the IIFE bundle the script tag loads.
import { installGlobal } from "./loader.js";

installGlobal(window, document.currentScript);
