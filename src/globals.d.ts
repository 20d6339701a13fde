/** Replaced at build time (esbuild `define`, vitest `define`) with the package version. */
declare const __REFTRACK_VERSION__: string;
