// @vitest-environment node
// Who a client is for rate limits (--trust-proxy, IPv6 /64), and the read API's secrets, as pure functions.
import { describe, expect, it } from "vitest";
import { bearerToken, parseSecrets, secretMatcher } from "../../src/collector/auth.js";
import { clientKey, parseTrustProxy } from "../../src/collector/clients.js";
import { redactUrl } from "../../src/collector/postgres-db.js";

describe("clientKey", () => {
  it("keys IPv4 by the address, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64 in any spelling", () => {
    expect(clientKey("203.0.113.7")).toBe("203.0.113.7");
    expect(clientKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    const same = ["2001:db8:1:2::1", "2001:0db8:0001:0002:ffff:ffff:ffff:ffff", "2001:db8:1:2:0:0:0:9", "2001:DB8:1:2::abcd"].map(clientKey);
    expect(new Set(same)).toEqual(new Set(["2001:db8:1:2::/64"]));
    expect(clientKey("2001:db8:1:3::1")).not.toBe(same[0]);
    expect(clientKey("::1")).toBe("0:0:0:0::/64");
    expect(clientKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
  });
});

describe("parseTrustProxy", () => {
  it("takes a number of hops or addresses and ranges, and refuses anything that would trust the client", () => {
    expect(parseTrustProxy(undefined)).toBe(false);
    expect(parseTrustProxy("2")).toBe(2);
    expect(parseTrustProxy("10.0.0.1, 10.0.1.0/24,::1")).toEqual(["10.0.0.1", "10.0.1.0/24", "::1"]);
    for (const bad of ["true", "", "0", "11", "10.0.0.1/33", "proxy.internal", "10.0.0.1/8/2"]) expect(() => parseTrustProxy(bad), bad).toThrow(/--trust-proxy/);
  });
});

describe("secrets", () => {
  it("need 24 characters, never quoted back; compared whole", () => {
    expect(() => parseSecrets("REFTRACK_READ_TOKEN", "short-but-secret")).toThrow(/REFTRACK_READ_TOKEN: key 1 is 16 characters/);
    expect(() => parseSecrets("REFTRACK_READ_TOKEN", "short-but-secret")).not.toThrow(/short-but-secret/);
    const keys = parseSecrets("K", " aaaaaaaaaaaaaaaaaaaaaaaaaa , bbbbbbbbbbbbbbbbbbbbbbbbbb,");
    const matches = secretMatcher(keys);
    expect([matches("aaaaaaaaaaaaaaaaaaaaaaaaaa"), matches("bbbbbbbbbbbbbbbbbbbbbbbbbb"), matches("aaaaaaaaaaaaaaaaaaaaaaaaa"), matches("")]).toEqual([true, true, false, false]);
    expect(secretMatcher([])("anything")).toBe(false);
  });

  it("reads Bearer tokens only", () => {
    expect([bearerToken(undefined), bearerToken("Bearer abc"), bearerToken("bearer  abc "), bearerToken("Basic abc"), bearerToken("Bearer a b"), bearerToken("Bearer")]).toEqual([undefined, "abc", "abc", null, null, null]);
  });
});

describe("clientKey, with what proxies write", () => {
  it("drops ports, reads IPv4 inside IPv6 in any spelling, and gives anything else one shared bucket", () => {
    expect(["203.0.113.7:5678", "[::ffff:203.0.113.7]:443", "0:0:0:0:0:ffff:203.0.113.7", "64:ff9b::203.0.113.7"].map(clientKey)).toEqual(Array(4).fill("203.0.113.7"));
    expect(clientKey("[2001:db8:1:2::1]:443")).toBe("2001:db8:1:2::/64");
    expect(["alex@domain.io", "unknown", "", "999.1.1.1"].map(clientKey)).toEqual(Array(4).fill("not-an-address"));
  });
});

describe("a PostgreSQL URL as the collector prints it", () => {
  it("shows no password, in the userinfo or as a query parameter", () => {
    const printed = redactUrl("postgres://reftrack:s3cret-pw@db.internal:5432/reftrack?sslmode=require&password=other-pw&sslpassword=key-pw");
    expect(printed).not.toMatch(/s3cret-pw|other-pw|key-pw/);
    expect(printed).toContain("db.internal:5432/reftrack");
  });
});
