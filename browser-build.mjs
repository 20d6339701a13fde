// How the two browser files are built: one set of settings for build.mjs, which ships them, and for the benches that
// build them again to weigh them (bench/size.mjs, bench/shared-modules.mjs), so a bench measures what ships.
import { minify } from "terser";

/** esbuild's settings for both files; browsers of the last three years (late 2023 on). */
export const browserBuild = { format: "iife", minify: true, target: ["chrome119", "edge119", "firefox120", "safari17"], platform: "browser", legalComments: "none" };

// terser minifies esbuild's output once more, for both files: it gives the most used names the same few letters in
// every scope, which gzip compresses better, and its compressor takes a little more (together about 1.2 KB on the
// second file, 0.2 KB on the first; a third pass took 17 B more off the first). Its default, safe transforms only,
// and no getter assumed free of side effects.
// ASCII only, as esbuild writes it: a page that serves the file without a charset still reads every message right.
// V8's compile hint (Chrome 136 on) opens both files: most of their functions run as soon as the file does, and with
// it V8 compiles them on its background thread while the file streams in, instead of on the page's main thread at
// each function's first call. README, "Landing cost": 2 to 4 ms of the landing view's script time, for 24 B.
const COMPILE_HINT = "//# allFunctionsCalledOnLoad\n";

/** esbuild's output of one browser file as it ships: minified once more, the compile hint first. */
export async function finishBrowserFile(code) {
  const { code: minified } = await minify(code, { ecma: 2020, compress: { passes: 3, pure_getters: false }, mangle: true, format: { comments: false, ascii_only: true } });
  return COMPILE_HINT + minified;
}
