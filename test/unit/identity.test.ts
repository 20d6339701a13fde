import { describe, expect, it } from "vitest";
import { anonymousCustomer, checkCustomer, randomId } from "../../src/identity.js";
import { ValidationError } from "../../src/schema.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("checkCustomer", () => {
  it("accepts source_id with optional email, name and metadata", () => {
    const customer = { source_id: "alex@domain.io", email: "alex@domain.io", name: "Alex Doe", metadata: { VIP: true } };
    expect(checkCustomer(customer)).toEqual(customer);
  });

  it("lists every problem at once", () => {
    let error: unknown;
    try {
      checkCustomer({ email: "not-an-email", name: 5 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((issue) => issue.path)).toEqual(["customer.source_id", "customer.email", "customer.name"]);
  });

  it("refuses a source_id in the anonymous namespace, which an endpoint would take for a visitor", () => {
    expect(() => checkCustomer({ source_id: "anon_123" })).toThrow(/customer\.source_id: must not start with "anon_"/);
  });

  it("rejects properties Voucherify's customer does not have here", () => {
    expect(() => checkCustomer({ source_id: "a", password: "x" })).toThrow(/customer\.password/);
  });
});

describe("identifiers", () => {
  it("gives anonymous visitors a source_id that cannot collide with a real one", () => {
    expect(anonymousCustomer("123")).toEqual({ source_id: "anon_123" });
  });

  it("makes version 4 UUIDs with randomUUID and without it (plain-http pages)", () => {
    expect(randomId(crypto)).toMatch(UUID);
    const withoutRandomUUID = { getRandomValues: crypto.getRandomValues.bind(crypto) } as unknown as Crypto;
    const ids = new Set(Array.from({ length: 100 }, () => randomId(withoutRandomUUID)));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(UUID);
  });
});
