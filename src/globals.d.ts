/** Replaced at build time (esbuild `define`, vitest `define`) with the package version. */
declare const __REFTRACK_VERSION__: string;
/** Replaced at build time in dist/reftrack.js: the full tracker's content-hashed file name, and its sha384. */
declare const __REFTRACK_FULL_FILE__: string;
declare const __REFTRACK_FULL_INTEGRITY__: string;
