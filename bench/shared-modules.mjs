// What the two browser files would weigh if the second took the modules it has in common with the first from the
// first at run time, instead of carrying its own copies (README, "Why a tracking view is not 12,000 B"). Not shipped:
// the first file would have to keep and hand over every function the tracker uses, inlined or not. Built here as
// build.mjs builds the real files (browser-build.mjs), with the shared modules swapped for reads of one array.
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { browserBuild, finishBrowserFile } from "../browser-build.mjs";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const integrity = JSON.parse(readFileSync("dist/integrity.json", "utf8"));
const fullFile = Object.keys(integrity).find((name) => /^reftrack\.[0-9a-f]{12}\.js$/.test(name));
const define = { __REFTRACK_VERSION__: JSON.stringify(pkg.version), __REFTRACK_FULL_FILE__: JSON.stringify(fullFile), __REFTRACK_FULL_INTEGRITY__: JSON.stringify(integrity[fullFile]) };

/** The modules both files bundle, with the exports the tracker takes from them. */
const common = {
  "src/referral.ts": ["REFERRAL_CODE", "REFERRAL_PARAM", "findReferralCode", "newReferral", "isLive", "chooseReferral", "withoutParam", "watchNavigation"],
  "src/cookie.ts": ["REFERRAL_COOKIE", "COOKIE_DOMAIN", "attributes", "referralCookieValue", "referralCookie", "expiredReferralCookie", "readReferralCookie"],
  "src/form-referral.ts": ["DEFAULT_FIELD", "fillReferralField", "fillReferralFields", "watchReferralForms"],
  "src/state-cookie.ts": ["somethingWaits", "cookieChoice", "setWaiting", "setChoiceCookie", "writeCookie", "readCookies"],
  "src/ids.ts": ["randomId"],
  "src/page-url.ts": ["scrubUrl"],
  "src/elements.ts": ["attributeMetadata", "formFields", "secretIn", "clickAction", "submitAction", "watchElements"],
  "src/event.ts": ["buildEvent", "pageContext"],
  "node_modules/idb-keyval/dist/index.js": ["createStore", "promisifyRequest"],
};
/** The ones the first file already holds (nearly) whole, so that sharing them adds least to it. */
const whole = ["src/referral.ts", "src/cookie.ts", "src/form-referral.ts", "src/state-cookie.ts", "src/ids.ts", "src/page-url.ts"];

const gzipOf = async (options) => {
  const result = await build({ ...browserBuild, bundle: true, write: false, define, ...options });
  return gzipSync(await finishBrowserFile(result.outputFiles[0].text), { level: 9 }).length;
};

async function measure(files) {
  const shared = files.flatMap((file) => common[file].map((name) => [file, name]));
  // The first file: every shared export kept, in one array the second file would read.
  const imports = files.map((file) => `import { ${common[file].join(", ")} } from "${resolve(file)}";`).join("\n");
  const first = await gzipOf({
    stdin: { contents: `${imports}\nimport { land } from "./src/landing.ts";\nwindow[Symbol.for("reftrack.shared")] = [${shared.map(([, name]) => name).join(", ")}];\nland(window, document.currentScript);`, resolveDir: process.cwd(), loader: "ts" },
  });
  // The second file: each shared module replaced by reads of that array.
  const fromFirstFile = {
    name: "from-first-file",
    setup(builder) {
      builder.onResolve({ filter: /.*/ }, ({ kind, path, resolveDir }) => {
        if (kind === "entry-point") return undefined;
        const target = path.startsWith(".") ? resolve(resolveDir, path).replace(/\.js$/, ".ts") : path === "idb-keyval" ? resolve("node_modules/idb-keyval/dist/index.js") : "";
        const file = files.find((candidate) => resolve(candidate) === target);
        return file ? { path: file, namespace: "shared" } : undefined;
      });
      builder.onLoad({ filter: /.*/, namespace: "shared" }, ({ path }) => ({
        loader: "js",
        contents: `const shared = window[Symbol.for("reftrack.shared")];\n${common[path].map((name) => `export const ${name} = shared[${shared.findIndex(([file, other]) => file === path && other === name)}];`).join("\n")}`,
      }));
    },
  };
  const second = await gzipOf({ entryPoints: ["src/full.ts"], plugins: [fromFirstFile] });
  return { first, second };
}

const first = await gzipOf({ entryPoints: ["src/browser.ts"] });
const second = await gzipOf({ entryPoints: ["src/full.ts"] });
console.log("both browser files, gzip, if the second took the modules it shares with the first from the first (not shipped)");
console.log(`  ${"".padEnd(40)}${"first file".padStart(12)}${"second file".padStart(13)}${"tracking view".padStart(15)}`);
const row = (label, sizes) => console.log(`  ${label.padEnd(40)}${String(sizes.first).padStart(12)}${String(sizes.second).padStart(13)}${String(sizes.first + sizes.second).padStart(15)}`);
row("as built: each file its own copy", { first, second });
row("shared: what the first file holds whole", await measure(whole));
row("shared: every module in common", await measure(Object.keys(common)));
