// The demo site as a visitor sees it: what shows, what can be read, and what stays out of the way.
import { randomUUID } from "node:crypto";
import type { Page } from "@playwright/test";
import { expect, ownerHeaders, test } from "./fixtures.js";

type Rgba = [number, number, number, number];

/** A computed colour (`rgb(…)`, `rgba(…)`, or the space-separated form) as [r, g, b, a]. */
function parseColour(css: string): Rgba {
  const numbers = css.match(/-?[\d.]+%?/g)?.map((part) => (part.endsWith("%") ? Number(part.slice(0, -1)) / 100 : Number(part))) ?? [];
  if (!/^rgba?\(/.test(css) || numbers.length < 3) throw new Error(`not an rgb colour: ${css}`);
  const [r = 0, g = 0, b = 0, a = 1] = numbers;
  return [r, g, b, a];
}

/** `top` painted over the opaque `under`. */
const over = ([r, g, b, a]: Rgba, [r2, g2, b2]: Rgba): Rgba => [r * a + r2 * (1 - a), g * a + g2 * (1 - a), b * a + b2 * (1 - a), 1];

/** WCAG 2 contrast ratio of two opaque colours, 1 to 21. */
function contrast(one: Rgba, two: Rgba): number {
  const luminance = ([r, g, b]: Rgba) => {
    const [lr = 0, lg = 0, lb = 0] = [r, g, b].map((value) => {
      const channel = value / 255;
      return channel <= 0.03928 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * lr + 0.7152 * lg + 0.0722 * lb;
  };
  const [light, dark] = [luminance(one), luminance(two)].sort((a, b) => b - a) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

async function coloursOf(page: Page, selector: string) {
  return page.locator(selector).evaluate((element) => {
    const style = getComputedStyle(element);
    return { background: style.backgroundColor, color: style.color, opacity: style.opacity, visibility: style.visibility };
  });
}

const consentChoice = (page: Page) => page.evaluate(() => window.localStorage.getItem("reftrack:consent"));
const reftrackLoaded = (page: Page) => page.waitForFunction(() => typeof (window as unknown as { reftrack: { version?: string } }).reftrack.version === "string");

test("the consent banner's buttons stand out from the banner, with readable labels", async ({ page, pageErrors }) => {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 844 });
    await page.goto("/consent.html");
    await expect(page.locator("#consent-banner")).toBeVisible();
    const banner = await coloursOf(page, "#consent-banner");
    const bannerBackground = parseColour(banner.background);
    expect(bannerBackground[3], "the banner has a solid background").toBe(1);

    for (const [selector, label] of [["#consent-accept", "Accept"], ["#consent-decline", "Decline"]] as const) {
      const button = page.locator(selector);
      await expect(button).toBeVisible();
      await expect(button).toHaveText(label);
      await expect(button).toBeInViewport({ ratio: 1 });
      const own = await coloursOf(page, selector);
      expect(own.opacity).toBe("1");
      expect(own.visibility).toBe("visible");
      const background = over(parseColour(own.background), bannerBackground);
      const text = over(parseColour(own.color), background);
      expect(text, `${label}: text colour differs from the button`).not.toEqual(background);
      expect(contrast(text, background), `${label}: its text is readable on the button (WCAG AA, 4.5:1)`).toBeGreaterThanOrEqual(4.5);
      if (label === "Accept") {
        expect(own.background, "Accept's background differs from the banner's").not.toBe(banner.background);
        // The button itself must be seen against the banner (WCAG 1.4.11, 3:1 for a control).
        expect(contrast(background, bannerBackground), "Accept stands out from the banner").toBeGreaterThanOrEqual(3);
      }
    }
  }
  expect(pageErrors).toEqual([]);
});

for (const [button, choice] of [["#consent-accept", "granted"], ["#consent-decline", "denied"]] as const) {
  test(`the consent banner stays hidden on later visits once the visitor chose (${choice})`, async ({ page, pageErrors }) => {
    await page.goto("/consent.html");
    await reftrackLoaded(page);
    await expect(page.locator("#consent-banner")).toBeVisible();
    await page.click(button);
    await expect(page.locator("#consent-banner")).toBeHidden();
    // reftrack itself remembers the choice.
    await expect.poll(() => consentChoice(page)).toBe(JSON.stringify(choice));

    for (const path of ["/consent.html", "/consent.html?ref=NRY-01"]) {
      await page.goto(path); // resolves on load: site.js (defer) has run
      await expect(page.locator("#consent-banner")).toBeHidden();
      await page.waitForTimeout(300);
      await expect(page.locator("#consent-banner")).toBeHidden();
    }
    expect(pageErrors).toEqual([]);
  });
}

test("the consent banner asks again when the remembered choice cannot be read", async ({ page, pageErrors }) => {
  await page.goto("/consent.html");
  for (const stored of ["{not json", '"maybe"', "true", '{"granted":true}']) {
    await page.evaluate((value) => window.localStorage.setItem("reftrack:consent", value), stored);
    await page.reload();
    await expect(page.locator("#consent-banner"), `stored ${stored}`).toBeVisible();
  }
  await page.evaluate(() => window.localStorage.removeItem("reftrack:consent"));
  await page.reload();
  await expect(page.locator("#consent-banner")).toBeVisible();
  expect(pageErrors).toEqual([]);
});

test("storage that throws means no choice yet: the banner shows, and the page keeps working", async ({ page, pageErrors }) => {
  await page.addInitScript(() => {
    Object.defineProperty(window, "localStorage", {
      configurable: true,
      get() {
        throw new DOMException("The operation is insecure.", "SecurityError");
      },
    });
  });
  await page.goto("/consent.html");
  await expect(page.locator("#consent-banner")).toBeVisible();
  await page.click("#consent-decline");
  await expect(page.locator("#consent-banner")).toBeHidden();
  expect(pageErrors).toEqual([]);
});

test("the live view shows each event's own time, and when it arrived if that was much later", async ({ page, request, pageErrors }) => {
  const anon = randomUUID();
  const now = Date.now();
  const wire = (id: string, timestamp: number, network: string) => ({
    id,
    event: "share_social",
    timestamp: new Date(timestamp).toISOString(),
    customer: { source_id: `anon_${anon}` },
    metadata: { network },
    anonymous_id: anon,
    context: { page: { url: "http://127.0.0.1/", path: "/", referrer: "", title: "" }, library: { name: "reftrack", version: "0.1.0" } },
  });
  // One event kept 10 minutes in an outbox (an outage), one sent at once.
  const late = wire(randomUUID(), now - 10 * 60_000, "x");
  const prompt = wire(randomUUID(), now, "linkedin");
  const response = await request.post("/v1/batch", { data: JSON.stringify({ sent_at: new Date(now).toISOString(), batch: [late, prompt] }), headers: { "Content-Type": "text/plain" } });
  expect(response.ok(), await response.text()).toBe(true);
  const stored = ((await (await request.get(`/v1/events?limit=500&customer=anon_${anon}`, { headers: ownerHeaders() })).json()) as { events: { id: string; received_at: string }[] }).events;
  const receivedAt = stored.find((event) => event.id === late.id)?.received_at;
  expect(receivedAt, "the late event was stored").toBeTruthy();

  await page.goto("/events.html");
  const lateRow = page.locator(`#events-body tr[data-event-id="${late.id}"]`);
  const promptRow = page.locator(`#events-body tr[data-event-id="${prompt.id}"]`);
  await expect(lateRow).toBeVisible();
  await expect(promptRow).toBeVisible();

  // The first cell: the event's own time, as the visitor's browser shows times.
  const lateTime = lateRow.locator("td").first();
  const shown = await page.evaluate((iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }), late.timestamp);
  await expect(lateTime.locator("time").first()).toHaveAttribute("datetime", late.timestamp);
  // (An event from before midnight also shows its date: the time is in the text either way.)
  await expect(lateTime.locator("time").first()).toContainText(shown);
  // …and below it, muted, when the collector received it, with the full instant on hover.
  const arrived = lateTime.locator(".arrived");
  await expect(arrived).toBeVisible();
  const arrivedAt = await page.evaluate((iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }), receivedAt ?? "");
  await expect(arrived).toHaveText(/^arrived /);
  await expect(arrived).toContainText(arrivedAt);
  await expect(arrived.locator("time")).toHaveAttribute("datetime", new Date(receivedAt ?? "").toISOString());
  await expect(arrived).toHaveAttribute("title", /10 min after it happened/);
  expect(shown).not.toBe(arrivedAt);

  // An event that arrived at once shows its time alone.
  const promptTime = promptRow.locator("td").first();
  await expect(promptTime.locator("time")).toHaveAttribute("datetime", prompt.timestamp);
  await expect(promptTime.locator(".arrived")).toHaveCount(0);

  // On a phone the rows stack, and the note is still there, inside the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await lateRow.scrollIntoViewIfNeeded();
  await expect(arrived).toBeInViewport({ ratio: 1 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  expect(pageErrors).toEqual([]);
});

test("the sign-up success card leaves room between its paragraph and its button", async ({ page, pageErrors }) => {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 844 });
    await page.goto("/signup.html?welcome=1&plan=pro");
    const done = page.locator("#signup-done");
    await expect(done).toBeVisible();
    await expect(done.locator("#signup-done-plan")).toHaveText("Pro");
    const paragraph = await done.locator("p").last().boundingBox();
    const button = await done.locator("a.button").boundingBox();
    if (!paragraph || !button) throw new Error("the success card's paragraph and button are laid out");
    expect(button.y - (paragraph.y + paragraph.height), `gap at ${width} px`).toBeGreaterThanOrEqual(8);
  }
  expect(pageErrors).toEqual([]);
});

test("no demo page is wider than a phone's screen", async ({ page, pageErrors }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  for (const path of ["/", "/?ref=NRY-01", "/signup.html", "/signup.html?welcome=1&plan=pro", "/events.html", "/consent.html", "/direct.html"]) {
    await page.goto(path);
    expect(await page.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(390);
  }
  expect(pageErrors).toEqual([]);
});
