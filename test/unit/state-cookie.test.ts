import { describe, expect, it } from "vitest";
import { setWaiting, somethingWaits } from "../../src/state-cookie.js";

describe("the flags that tell the next page something waits", () => {
  it("are read only from reftrack's own cookies, with the value 1", () => {
    expect(somethingWaits("")).toBe(false);
    expect(somethingWaits("a=1; reftrack_pending=1")).toBe(true);
    expect(somethingWaits("reftrack_backlog=1; b=2")).toBe(true);
    expect(somethingWaits("reftrack_pending=0; reftrack_backlog=")).toBe(false);
    expect(somethingWaits("xreftrack_pending=1; reftrack_pending=10; a=reftrack_backlog=1")).toBe(false);
  });

  it("are set and removed one at a time, each beside the other", () => {
    document.cookie = "reftrack_pending=; Max-Age=0; Path=/";
    document.cookie = "reftrack_backlog=; Max-Age=0; Path=/";
    setWaiting(document, "pending", true, false);
    setWaiting(document, "backlog", true, false);
    expect(somethingWaits(document.cookie)).toBe(true);
    setWaiting(document, "pending", false, false);
    expect(document.cookie).not.toContain("reftrack_pending=1");
    expect(somethingWaits(document.cookie)).toBe(true);
    setWaiting(document, "backlog", false, false);
    expect(somethingWaits(document.cookie)).toBe(false);
  });

  it("never throw where cookies are refused", () => {
    const refusing = { set cookie(_: string) { throw new DOMException("sandboxed", "SecurityError"); } } as unknown as Document;
    expect(() => setWaiting(refusing, "pending", true, true)).not.toThrow();
  });
});
