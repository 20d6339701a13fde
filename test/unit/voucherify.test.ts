import { describe, expect, it } from "vitest";
import { buildEvent, type EventParts } from "../../src/event.js";
import { anonymousCustomer } from "../../src/identity.js";
import { newReferral } from "../../src/referral.js";
import { voucherifyErrors } from "../voucherify.js";

const errorsOf = voucherifyErrors();
const parts: EventParts = {
  id: "b3c0c9f4-0d7e-4c55-9f5a-3c4d2b7e8a10",
  name: "signed_up",
  metadata: { sign_up_date: "2019-01-25T14:30:00.000Z" },
  now: Date.parse("2026-11-26T10:00:00Z"),
  anonymousId: "6d0e1c1b-6a49-4b43-8f1e-2f5f6bb1b0a1",
  customer: anonymousCustomer("6d0e1c1b-6a49-4b43-8f1e-2f5f6bb1b0a1"),
  referral: null,
  page: { url: "https://site.example/?ref=NRY-01", path: "/", referrer: "", title: "Site" },
  version: "0.1.0",
};

describe("every event validates against Voucherify's custom-event request body", () => {
  it("an anonymous event without a referral", () => {
    expect(errorsOf(buildEvent(parts))).toBeNull();
  });

  it("an identified event with a referral and customer metadata", () => {
    const event = buildEvent({
      ...parts,
      customer: { source_id: "alex@domain.io", email: "alex@domain.io", name: "Alex Doe", metadata: { VIP: true } },
      referral: newReferral("NRY-01", "ref", "https://site.example/?ref=NRY-01", parts.now, 30),
    });
    expect(event.referral).toEqual({ code: "NRY-01" });
    expect(errorsOf(event)).toBeNull();
  });

  it("the check itself fails a body Voucherify would refuse", () => {
    expect(errorsOf({ ...buildEvent(parts), customer: undefined })).toContain("customer");
    expect(errorsOf({ ...buildEvent(parts), event: "" })).toContain("event");
  });
});
