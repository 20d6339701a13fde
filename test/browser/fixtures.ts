// A page that fails its test on any error it shows (uncaught exception, unhandled rejection, console error),
// and helpers to read what the demo collection endpoint received.
import { test as base, expect, type APIRequestContext, type Page } from "@playwright/test";

/** One stored event of the collector's GET /v1/events. */
export interface Received {
  id: string;
  referral_code: string | null;
  source: "browser" | "server";
  body: {
    id: string;
    event: string;
    customer: { source_id: string; email?: string; name?: string };
    metadata: Record<string, unknown>;
    referral?: { code: string };
    anonymous_id: string;
    context: { page: { url: string; path: string } };
  };
}

export const test = base.extend<{ pageErrors: string[] }>({
  pageErrors: async ({ page }, use) => {
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(`console.error: ${message.text()}`);
    });
    await page.addInitScript(() => {
      window.addEventListener("unhandledrejection", (event) => console.error(`unhandledrejection: ${String(event.reason)}`));
    });
    await use(errors);
    expect(errors, "the page saw no error").toEqual([]);
  },
});

export { expect };

/** A referral code no other test uses, so tests running side by side never read each other's events. */
export const uniqueCode = (label: string) => `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;

/** What reading the demo collector takes: its read token (playwright.config.ts makes it). */
export const ownerHeaders = () => ({ Authorization: `Bearer ${process.env.REFTRACK_READ_TOKEN ?? ""}` });

export async function received(request: APIRequestContext, query: Record<string, string>): Promise<Received[]> {
  const response = await request.get(`/v1/events?${new URLSearchParams({ limit: "500", ...query })}`, { headers: ownerHeaders() });
  return ((await response.json()) as { events: Received[] }).events;
}

/** Waits until the endpoint holds `count` events matching the query. */
export async function waitForEvents(request: APIRequestContext, query: Record<string, string>, count = 1): Promise<Received[]> {
  let events: Received[] = [];
  await expect.poll(async () => (events = await received(request, query)).length, { timeout: 10_000 }).toBe(count);
  return events;
}

export async function anonymousIdOf(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const { anonymous_id } = await new Promise<{ anonymous_id: string }>((resolve, reject) => {
      const open = indexedDB.open("reftrack");
      open.onsuccess = () => {
        const get = open.result.transaction("state").objectStore("state").get("anonymous_id");
        get.onsuccess = () => resolve({ anonymous_id: get.result as string });
        get.onerror = () => reject(get.error);
      };
      open.onerror = () => reject(open.error);
    });
    return anonymous_id;
  });
}
