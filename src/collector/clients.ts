// Who a client is, for rate limits: the address the nearest trusted proxy saw, never one the client wrote.
import { isIP } from "node:net";

/**
 * `--trust-proxy`: how many proxies stand in front (`1`, `2` …), or their addresses and CIDR ranges
 * (`10.0.0.1,10.0.1.0/24`). `true` (trust any X-Forwarded-For) is refused: the client would pick its own address.
 */
export function parseTrustProxy(value: string | undefined): number | string[] | false {
  if (value === undefined) return false;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) {
    const hops = Number(trimmed);
    if (hops < 1 || hops > 10) throw new Error(`--trust-proxy takes the number of proxies in front (1 to 10), not ${trimmed}`);
    return hops;
  }
  const addresses = trimmed.split(",").map((item) => item.trim()).filter((item) => item !== "");
  for (const address of addresses) {
    const [ip = "", bits, extra] = address.split("/");
    const version = isIP(ip);
    const maxBits = version === 6 ? 128 : 32;
    if (version === 0 || extra !== undefined || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= maxBits))) {
      throw new Error(`--trust-proxy takes a number of proxies (1) or their addresses (10.0.0.1,10.0.1.0/24); "${address}" is neither`);
    }
  }
  if (addresses.length === 0) throw new Error("--trust-proxy needs a value: the number of proxies in front (1), or their addresses");
  return addresses;
}

/**
 * The rate-limit bucket of an address. An IPv6 client is keyed by its /64: one subscriber usually holds a whole /64
 * and could otherwise take a fresh address, and a fresh bucket, for every request.
 */
export function clientKey(address: string): string {
  const ip = withoutPort(address.trim());
  // IPv4 written as IPv6 (mapped ::ffff:a.b.c.d in any spelling, NAT64 64:ff9b::a.b.c.d) is that IPv4 client.
  const embedded = /^(?:(?:0{1,4}:){5}ffff:|::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (embedded?.[1]) return embedded[1];
  const version = isIP(ip.split("%")[0] ?? "");
  if (version === 4) return ip;
  // A header a proxy passed on may hold anything: what is no address shares one bucket, never a bucket of its own.
  if (version !== 6) return "not-an-address";
  return `${expandIpv6(ip).slice(0, 4).join(":")}::/64`;
}

/** `1.2.3.4:5678` and `[2001:db8::1]:443`, as some load balancers write them, are the address without the port. */
function withoutPort(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed?.[1]) return bracketed[1];
  const v4 = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(address);
  return v4?.[1] ?? address;
}

function expandIpv6(ip: string): string[] {
  const [head = "", tail] = ip.split("%")[0]?.split("::") ?? [""];
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  // An embedded IPv4 tail (::1.2.3.4) takes two groups; only the first four groups matter here.
  const width = right.some((group) => group.includes(".")) ? 7 : 8;
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, width - left.length - right.length)).fill("0"), ...right];
  return groups.map((group) => (group.includes(".") ? group : Number.parseInt(group || "0", 16).toString(16)));
}
