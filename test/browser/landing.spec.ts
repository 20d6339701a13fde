// The small first file and the full tracker it loads when the page first tracks (issue 11): nothing made before the
// tracker is there is lost, even when the page navigates away at once; and the second file loads under every
// Content-Security-Policy the first one does.
import { readFileSync } from "node:fs";
import type { Page } from "@playwright/test";
import { collectorPerTest, startSite } from "./delivery-site.js";
import { expect, test } from "./fixtures.js";

const use = collectorPerTest();
type Reftrack = { version?: string; track(name: string, metadata?: unknown): Promise<{ id: string }>; flush(): Promise<void> };
const integrity = JSON.parse(readFileSync("dist/integrity.json", "utf8")) as Record<string, string>;
const fullFile = Object.keys(integrity).find((name) => /^reftrack\.[0-9a-f]{12}\.js$/.test(name)) ?? "";
const requested = (page: Page) => {
  const files: string[] = [];
  page.on("request", (request) => files.push(new URL(request.url()).pathname));
  return files;
};

/** Uncaught errors and unhandled rejections of the page, for tests where the browser logs errors of its own. */
function watchThrown(page: Page): string[] {
  const thrown: string[] = [];
  page.on("pageerror", (error) => thrown.push(error.message));
  void page.addInitScript(() => window.addEventListener("unhandledrejection", (event) => console.warn(`unhandledrejection: ${String(event.reason)}`)));
  page.on("console", (message) => void (message.text().startsWith("unhandledrejection") && thrown.push(message.text())));
  return thrown;
}

/** Every test here also fails on any page error, console error or unhandled rejection (the fixture checks at the end). */
const quiet = (errors: string[]) => void errors;

/** The referral in IndexedDB's state store, or null; never creates the database. */
const storedReferral = (page: Page) =>
  page.evaluate(async () => {
    if (!(await indexedDB.databases()).some((database) => database.name === "reftrack")) return null;
    return new Promise<string | null>((resolve) => {
      const open = indexedDB.open("reftrack");
      open.onsuccess = () => {
        const read = open.result.transaction("state").objectStore("state").get("referral");
        read.onsuccess = () => resolve((read.result as { code?: string } | undefined)?.code ?? null);
      };
    });
  });

test("a page view that only looks downloads the first file alone; the tracker arrives on the first tracked interaction", async ({ page, pageErrors }) => {
  quiet(pageErrors);
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-schema": "/events.schema.json" }));
  const files = requested(page);
  // The browser's first localStorage read is the dearest step of a page view (README, "Landing cost"): count them.
  await page.addInitScript(() => {
    const owner = Object.getOwnPropertyDescriptor(window, "localStorage") ? window : Window.prototype;
    const descriptor = Object.getOwnPropertyDescriptor(owner, "localStorage");
    const counted = window as unknown as { localStorageReads: number };
    counted.localStorageReads = 0;
    Object.defineProperty(owner, "localStorage", {
      configurable: true,
      get() {
        counted.localStorageReads++;
        return descriptor?.get?.call(window);
      },
    });
  });
  await page.goto(`${site.origin}/page.html?ref=LOOK-1`);
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
  await page.waitForTimeout(500);
  expect(files.filter((file) => file.endsWith(".js"))).toEqual(["/reftrack.js"]);
  expect(await page.evaluate(() => (window as unknown as { localStorageReads: number }).localStorageReads)).toBe(0);
  // The referral is captured and stored by the first file alone, the tracker never fetched: the cookie and IndexedDB.
  expect(await page.evaluate(() => document.cookie)).toContain("reftrack_ref=LOOK-1|ref|");
  await expect.poll(() => storedReferral(page)).toBe("LOOK-1");
  await page.hover("#button");
  await page.dispatchEvent("#button", "pointerdown");
  await expect.poll(() => files).toContain(`/${fullFile}`);
});

test("a tracked form submitted within 50 ms of load, the schema answering after 3 s: the event is checked and delivered by the next page", async ({ page, pageErrors }) => {
  quiet(pageErrors);
  const site = (use.site = await startSite(
    { "data-endpoint": use.collector.url, "data-schema": "/events.schema.json", "data-flush-ms": "100" },
    { schemaDelayMs: 3000, body: `<form id="join" action="/other.html" data-track="joined" data-track-plan="pro"><button id="go">Join</button></form>` },
  ));
  await page.goto(`${site.origin}/page.html?ref=FAST-1`);
  await page.evaluate(() => (document.getElementById("join") as HTMLFormElement).requestSubmit());
  await page.waitForURL(`${site.origin}/other.html?`);
  await expect.poll(() => use.collector.events.map((event) => [event.event, event.metadata]), { timeout: 15_000 }).toEqual([["joined", { plan: "pro" }]]);
  expect(use.collector.events[0]?.context.page.url).toBe(`${site.origin}/page.html?ref=FAST-1`);
});

test("a tracked form submitted while the tracker still waits for the schema: the page goes away, and the next page delivers it", async ({ page, pageErrors }) => {
  quiet(pageErrors);
  const site = (use.site = await startSite(
    { "data-endpoint": use.collector.url, "data-schema": "/events.schema.json", "data-flush-ms": "100" },
    { schemaDelayMs: 3000, body: `<form id="join" action="/other.html" data-track="joined" data-track-plan="pro"><button id="go">Join</button></form>` },
  ));
  await page.goto(`${site.origin}/page.html?ref=BUSY-1`);
  // The tracker itself takes the submit: the first file has handed over and stopped listening.
  await page.evaluate(() => void (window as unknown as { reftrack: Reftrack }).reftrack.flush());
  await page.waitForFunction(() => !(Symbol.for("reftrack.handoff") in (window as unknown as { reftrack: object }).reftrack));
  const submittedAt = Date.now();
  await page.evaluate(() => (document.getElementById("join") as HTMLFormElement).requestSubmit());
  await page.waitForURL(`${site.origin}/other.html?`);
  await expect.poll(() => use.collector.events.map((event) => [event.event, event.metadata, event.referral?.code]), { timeout: 15_000 }).toEqual([["joined", { plan: "pro" }, "BUSY-1"]]);
  const [event] = use.collector.events;
  expect(event?.context.page.url).toBe(`${site.origin}/page.html?ref=BUSY-1`);
  expect(Math.abs(Date.parse(event?.timestamp ?? "") - submittedAt)).toBeLessThan(1000);
});

test("a form whose event fails the schema, submitted before the tracker is there, is checked too: refused, never sent", async ({ page, pageErrors }) => {
  quiet(pageErrors);
  const site = (use.site = await startSite(
    { "data-endpoint": use.collector.url, "data-schema": "/events.schema.json", "data-flush-ms": "100" },
    { body: `<form id="join" action="/other.html" data-track="joined" data-track-plan="enterprise"><button>Join</button></form>` },
  ));
  const warnings: string[] = [];
  page.on("console", (message) => void (message.type() === "warning" && warnings.push(message.text())));
  await page.goto(`${site.origin}/page.html`);
  await page.evaluate(() => (document.getElementById("join") as HTMLFormElement).requestSubmit());
  await page.waitForURL(`${site.origin}/other.html?`);
  await expect.poll(() => warnings.join("\n"), { timeout: 10_000 }).toContain("metadata.plan");
  await page.waitForTimeout(500);
  expect(use.collector.events).toEqual([]);
});

test("a tracked link clicked before anything deferred has arrived: delivered, with the time and page of the click", async ({ page, pageErrors }) => {
  quiet(pageErrors);
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-schema": "/events.schema.json", "data-flush-ms": "100" }, { schemaDelayMs: 1000 }));
  await page.route(`**/${fullFile}`, async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the tracker is slow to come on this page
    await route.continue();
  });
  await page.goto(`${site.origin}/page.html?ref=LINK-1`);
  const clickedAt = Date.now();
  await page.click("#away");
  await page.waitForURL(`${site.origin}/other.html`);
  await expect.poll(() => use.collector.events.map((event) => event.event), { timeout: 15_000 }).toEqual(["left_page"]);
  const [event] = use.collector.events;
  expect(event?.context.page.url).toBe(`${site.origin}/page.html?ref=LINK-1`);
  expect(Math.abs(Date.parse(event?.timestamp ?? "") - clickedAt)).toBeLessThan(1000);
});

for (const [label, policy] of [
  ["a nonce", (nonce: string) => `script-src 'nonce-${nonce}'`],
  ["'strict-dynamic'", (nonce: string) => `script-src 'nonce-${nonce}' 'strict-dynamic'`],
] as const) {
  test(`the second file loads under ${label}, pinned by its sha384; no violation`, async ({ page, pageErrors }) => {
  quiet(pageErrors);
    const nonce = "n0nce-for-this-test";
    const csp = `default-src 'none'; ${policy(nonce)}; connect-src 'self' ${new URL(use.collector.url).origin}; img-src 'self'`;
    const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-flush-ms": "100" }, { csp, nonce }));
    const violations: string[] = [];
    await page.exposeFunction("violation", (text: string) => void violations.push(text));
    await page.addInitScript(() => document.addEventListener("securitypolicyviolation", (event) => (window as unknown as { violation(text: string): void }).violation(`${event.violatedDirective} ${event.blockedURI}`)));
    await page.goto(`${site.origin}/page.html`);
    await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.track("e", { n: 1 }));
    await expect.poll(() => use.collector.ids.length, { timeout: 10_000 }).toBe(1);
    expect(violations).toEqual([]);
  });
}

test("the CSP test can fail: a second file whose content does not match its pinned sha384 is refused", async ({ page }) => {
  // The browser itself logs the refused file as a console error: only the page's own errors count here.
  const thrown = watchThrown(page);
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url }));
  await page.route(`**/${fullFile}`, (route) => route.fulfill({ contentType: "text/javascript", body: "window.tampered = true;" }));
  const warnings: string[] = [];
  page.on("console", (message) => void (message.type() === "warning" && warnings.push(message.text())));
  await page.goto(`${site.origin}/page.html`);
  const outcome = await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.track("e").then(() => "resolved", (error: Error) => error.message));
  expect(await page.evaluate(() => (window as unknown as { tampered?: boolean }).tampered)).toBeUndefined();
  // Kept in localStorage, the event is queued for good: it resolves, and waits for a tracker that loads.
  expect(outcome).toBe("resolved");
  expect(warnings.join()).toContain("could not load");
  expect(thrown).toEqual([]);
});

test("a malformed entry in the kept commands is dropped, and the valid one after it is still delivered", async ({ page, pageErrors }) => {
  quiet(pageErrors);
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-flush-ms": "100" }));
  await page.goto(`${site.origin}/other.html`);
  const key = `reftrack:pending:${use.collector.url}`;
  await page.evaluate((storageKey) => {
    const page = { url: location.href, path: "/other.html", referrer: "", title: "other" };
    const valid = { kind: "track", id: "kept-valid-0001", at: Date.now(), page, name: "e", metadata: { n: 1 } };
    localStorage.setItem(storageKey, JSON.stringify([{ kind: "call", id: "bad-1", command: "flush" }, { kind: "element", id: "bad-2" }, valid]));
    document.cookie = "reftrack_pending=1; Path=/"; // as the page that kept them says it
  }, key);
  await page.goto(`${site.origin}/other.html`);
  await expect.poll(() => use.collector.ids, { timeout: 10_000 }).toEqual(["kept-valid-0001"]);
  await expect.poll(() => page.evaluate((storageKey) => localStorage.getItem(storageKey), key)).toBeNull();
});

test("consent given before the tracker is there counts at once, even when the page reloads right after", async ({ page }) => {
  // The browser itself logs the refused file as a console error: only the page's own errors count here.
  const thrown = watchThrown(page);
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-consent": "required", "data-flush-ms": "100" }));
  await page.route(`**/${fullFile}`, (route) => route.abort());
  await page.goto(`${site.origin}/page.html?ref=CHOICE-1`);
  await page.evaluate(() => {
    const { reftrack } = window as unknown as { reftrack: ((...args: unknown[]) => unknown) & Reftrack };
    reftrack("consent", true);
    void reftrack.track("e", { n: 1 }).catch(() => undefined);
  });
  await page.unroute(`**/${fullFile}`);
  await page.reload();
  await expect.poll(() => use.collector.events.map((event) => event.event), { timeout: 10_000 }).toEqual(["e"]);
  expect(await page.evaluate(() => localStorage.getItem("reftrack:consent"))).toBe('"granted"');
  expect(thrown).toEqual([]);
});

test("while the tracker cannot load, 100 commands are kept and resolve, the rest reject, and none kept is pushed out", async ({ page }) => {
  // The browser itself logs the refused file as a console error: only the page's own errors count here.
  const thrown = watchThrown(page);
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-flush-ms": "100" }));
  await page.route(`**/${fullFile}`, (route) => route.abort());
  await page.goto(`${site.origin}/page.html?ref=MANY-1`);
  const outcomes = await page.evaluate(async () => {
    const { reftrack } = window as unknown as { reftrack: Reftrack };
    const settled = await Promise.allSettled(Array.from({ length: 105 }, (_, n) => reftrack.track("e", { n })));
    return settled.map((result) => result.status);
  });
  expect(outcomes).toEqual([...Array<string>(100).fill("fulfilled"), ...Array<string>(5).fill("rejected")]);
  await page.unroute(`**/${fullFile}`);
  await page.goto(`${site.origin}/other.html`);
  await expect.poll(() => use.collector.events.length, { timeout: 15_000 }).toBe(100);
  expect(use.collector.events.map((event) => event.metadata.n).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 100 }, (_, n) => n));
  expect(thrown).toEqual([]);
});

test("a code from an SPA navigation before the tracker arrives is the one events carry", async ({ page, pageErrors }) => {
  quiet(pageErrors);
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-flush-ms": "100" }));
  await page.goto(`${site.origin}/page.html?ref=OLDER-1`);
  await page.evaluate(() => history.pushState({}, "", "/page.html?ref=NEWER-2"));
  await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.track("e"));
  await expect.poll(() => use.collector.events.length, { timeout: 10_000 }).toBe(1);
  expect(await page.evaluate(() => (window as unknown as { reftrack: { referral(): { code: string } | null } }).reftrack.referral()?.code)).toBe("NEWER-2");
  expect(await page.evaluate(() => document.cookie)).toContain("reftrack_ref=NEWER-2|");
});

test("under Trusted Types, the tracker loads through its policy; nothing is thrown at the page", async ({ page, pageErrors }) => {
  quiet(pageErrors);
  const csp = `require-trusted-types-for 'script'; trusted-types reftrack`;
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-flush-ms": "100" }, { csp }));
  await page.goto(`${site.origin}/page.html`);
  await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.track("e"));
  await expect.poll(() => use.collector.ids.length, { timeout: 10_000 }).toBe(1);
});

test("a second script tag is ignored with a warning naming both endpoints; the first stays in charge", async ({ page, pageErrors }) => {
  quiet(pageErrors);
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url }, { head: `<script async src="/reftrack.js" data-endpoint="/elsewhere"></script>` }));
  const warnings: string[] = [];
  page.on("console", (message) => void (message.type() === "warning" && warnings.push(message.text())));
  await page.goto(`${site.origin}/page.html`);
  await expect.poll(() => warnings.find((text) => text.includes("second reftrack.js")) ?? "").toMatch(/was ignored; the first \(data-endpoint="[^"]+"\) stays in charge/);
  const warning = warnings.find((text) => text.includes("second reftrack.js")) ?? "";
  expect(warning).toContain('data-endpoint="/elsewhere"');
  expect(warning).toContain(`data-endpoint="${use.collector.url}"`);
});

test("a visitor who declined lands again with a code: the first file alone honours the refusal and stores nothing", async ({ page }) => {
  const thrown = watchThrown(page);
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-flush-ms": "100" }));
  // The tracker never arrives: what is honoured here is the first file's doing.
  await page.route(`**/${fullFile}`, (route) => route.abort());
  await page.goto(`${site.origin}/page.html`);
  await page.evaluate(() => void (window as unknown as { reftrack: (...args: unknown[]) => unknown }).reftrack("consent", false));
  await page.waitForTimeout(300);
  // Only localStorage's copy would cost the next page a synchronous read: the refusal must be found without it.
  await page.evaluate(() => localStorage.removeItem("reftrack:consent"));
  await page.goto(`${site.origin}/page.html?ref=DECLINED-1`);
  await page.waitForTimeout(500);
  expect(await page.evaluate(() => document.cookie)).not.toContain("reftrack_ref");
  expect(await storedReferral(page)).toBeNull();
  expect(await page.evaluate(() => (window as unknown as { reftrack: { referral(): unknown } }).reftrack.referral())).toBeNull();
  expect(use.collector.events).toEqual([]);
  expect(thrown).toEqual([]);
});

/** Holds `indexedDB.databases()` back for `ms`: the first file's answer from IndexedDB comes late. */
const slowIndexedDb = (page: Page, ms: number) =>
  page.addInitScript((delay) => {
    const list = IDBFactory.prototype.databases;
    IDBFactory.prototype.databases = function (this: IDBFactory) {
      return new Promise((resolve) => setTimeout(resolve, delay)).then(() => list.call(this));
    };
  }, ms);

test("a refusal kept by the cookie alone holds on the next page, IndexedDB's and localStorage's copies gone", async ({ page }) => {
  const thrown = watchThrown(page);
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url }));
  await page.route(`**/${fullFile}`, (route) => route.abort());
  await page.goto(`${site.origin}/page.html`);
  await page.evaluate(() => void (window as unknown as { reftrack: (...args: unknown[]) => unknown }).reftrack("consent", false));
  await expect.poll(() => page.evaluate(() => document.cookie)).toContain("reftrack_consent=denied");
  // As when the page went away before IndexedDB's write landed, and the tracker's copy was never written.
  await page.evaluate(() => {
    localStorage.removeItem("reftrack:consent");
    return new Promise((resolve) => {
      const open = indexedDB.open("reftrack");
      open.onsuccess = () => {
        const transaction = open.result.transaction("state", "readwrite");
        transaction.objectStore("state").delete("consent");
        transaction.oncomplete = resolve;
      };
    });
  });
  await page.goto(`${site.origin}/page.html?ref=GONE-1`);
  await page.waitForTimeout(500);
  expect(await page.evaluate(() => document.cookie)).not.toContain("reftrack_ref");
  expect(await storedReferral(page)).toBeNull();
  expect(await page.evaluate(() => (window as unknown as { reftrack: { referral(): unknown } }).reftrack.referral())).toBeNull();
  expect(thrown).toEqual([]);
});

test("a code an SPA navigation brings before IndexedDB answers is kept", async ({ page, pageErrors }) => {
  quiet(pageErrors);
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url }));
  await slowIndexedDb(page, 1000);
  await page.goto(`${site.origin}/page.html`);
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
  await page.evaluate(() => history.pushState(null, "", "/page.html?ref=SPA-2"));
  await expect.poll(() => page.evaluate(() => document.cookie), { timeout: 5000 }).toContain("reftrack_ref=SPA-2|ref|");
  await expect.poll(() => storedReferral(page)).toBe("SPA-2");
});

test("a landing page that moves on before IndexedDB answers still leaves the code in the cookie", async ({ page, pageErrors }) => {
  quiet(pageErrors);
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url }));
  await slowIndexedDb(page, 2000);
  await page.goto(`${site.origin}/page.html?ref=FAST-2`);
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
  await page.evaluate(() => location.replace("/other.html"));
  await page.waitForURL(`${site.origin}/other.html`);
  expect(await page.evaluate(() => document.cookie)).toContain("reftrack_ref=FAST-2|ref|");
});

test("in a sandboxed document (no storage at all) nothing is thrown at the page and nothing is left unhandled", async ({ page }) => {
  const thrown = watchThrown(page);
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url }, { csp: "sandbox allow-scripts" }));
  await page.goto(`${site.origin}/page.html?ref=BOX-1`);
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
  const outcome = await page.evaluate(() => {
    const { reftrack } = window as unknown as { reftrack: ((...args: unknown[]) => unknown) & { referral(): unknown } };
    try {
      void (reftrack("track", "e", {}) as Promise<unknown>).catch(() => undefined);
      void (reftrack("consent", false) as Promise<unknown> | undefined)?.catch(() => undefined);
      reftrack.referral();
      return "no throw";
    } catch (error) {
      return `threw ${(error as Error).message}`;
    }
  });
  expect(outcome).toBe("no throw");
  await page.waitForTimeout(3500); // past the first file's fallback for an IndexedDB that never answers
  expect(thrown).toEqual([]);
});

test("in a sandboxed document (IndexedDB and Web Locks both refused), what the page tracks still reaches the collector", async ({ page, pageErrors }) => {
  quiet(pageErrors);
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-flush-ms": "100" }, { csp: "sandbox allow-scripts" }));
  await page.goto(`${site.origin}/page.html?ref=BOX-2`);
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
  await page.evaluate(() => (window as unknown as { reftrack: Reftrack }).reftrack.track("boxed", { n: 1 }));
  await expect.poll(() => use.collector.events.map((event) => [event.event, event.referral?.code]), { timeout: 15_000 }).toEqual([["boxed", "BOX-2"]]);
});

test("where the browser cannot list its databases, a visitor whose consent is pending gets none made by reading", async ({ page, pageErrors }) => {
  quiet(pageErrors);
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url, "data-consent": "required" }));
  await page.addInitScript(() => {
    delete (IDBFactory.prototype as { databases?: unknown }).databases;
  });
  await page.goto(`${site.origin}/page.html?ref=WAIT-1`);
  await page.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
  await page.waitForTimeout(500);
  const existed = await page.evaluate(
    () =>
      new Promise<boolean>((resolve) => {
        const open = indexedDB.open("reftrack");
        open.onupgradeneeded = () => {
          open.transaction?.abort(); // it did not exist: make none here either
          resolve(false);
        };
        open.onsuccess = () => resolve(true);
        open.onerror = () => resolve(false);
      }),
  );
  expect(existed).toBe(false);
  expect(await page.evaluate(() => document.cookie)).not.toContain("reftrack_ref");
});

test("a refusal made in another tab is followed before this tab stores anything more", async ({ context }) => {
  const site = (use.site = await startSite({ "data-endpoint": use.collector.url }));
  await context.route(`**/${fullFile}`, (route) => route.abort());
  const [first, second] = [await context.newPage(), await context.newPage()];
  const thrown = [...[first, second].map(watchThrown)];
  for (const tab of [first, second]) {
    await tab.goto(`${site.origin}/page.html`);
    await tab.waitForFunction(() => typeof (window as unknown as { reftrack: Reftrack }).reftrack.version === "string");
  }
  await first.evaluate(() => void (window as unknown as { reftrack: (...args: unknown[]) => unknown }).reftrack("consent", false));
  await second.evaluate(() => history.pushState(null, "", "/page.html?ref=OTHER-1"));
  await second.waitForTimeout(500);
  expect(await second.evaluate(() => document.cookie)).not.toContain("reftrack_ref");
  expect(await storedReferral(second)).toBeNull();
  expect(await second.evaluate(() => (window as unknown as { reftrack: { referral(): unknown } }).reftrack.referral())).toBeNull();
  expect(thrown.flat()).toEqual([]);
});
