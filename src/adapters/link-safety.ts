import { lookup as dnsLookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { RoadtollError } from "../errors.js";
import { redactUrl } from "./redact.js";

/**
 * Which addresses a download may reach. `public` (the Lambda's default) refuses every address that is not on the
 * public internet; `loopback` also allows 127.0.0.0/8 and ::1 (the local runner, whose samples are served
 * there); `private` allows any address (DOWNLOAD_ALLOW_PRIVATE_HOSTS=true, for a deliberate in-VPC source).
 */
export type AddressPolicy = "public" | "loopback" | "private";

export interface LinkPolicy {
  addresses: AddressPolicy;
  /** Host names a link may name (exact, case-insensitive); none means any host whose addresses pass. */
  allowedHosts: readonly string[];
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** The DNS seam: tests and address-based checks replace it; the default asks the system resolver. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map(({ address, family }) => ({
    address,
    family: family === 6 ? 6 : 4,
  }));

const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

/** Not the public internet, by IANA's special-purpose registries, with the reason a refusal gives. */
const SPECIAL: ReadonlyArray<readonly [string, number, "ipv4" | "ipv6", string]> = [
  ["0.0.0.0", 8, "ipv4", "unspecified"],
  ["10.0.0.0", 8, "ipv4", "private (RFC 1918)"],
  ["100.64.0.0", 10, "ipv4", "shared address space (CGNAT)"],
  ["127.0.0.0", 8, "ipv4", "loopback"],
  ["169.254.0.0", 16, "ipv4", "link-local (instance metadata lives here)"],
  ["172.16.0.0", 12, "ipv4", "private (RFC 1918)"],
  ["192.0.0.0", 24, "ipv4", "IETF protocol assignments"],
  ["192.0.2.0", 24, "ipv4", "documentation"],
  ["192.168.0.0", 16, "ipv4", "private (RFC 1918)"],
  ["198.18.0.0", 15, "ipv4", "benchmarking"],
  ["198.51.100.0", 24, "ipv4", "documentation"],
  ["203.0.113.0", 24, "ipv4", "documentation"],
  ["224.0.0.0", 4, "ipv4", "multicast"],
  ["240.0.0.0", 4, "ipv4", "reserved"],
  ["::", 128, "ipv6", "unspecified"],
  ["::1", 128, "ipv6", "loopback"],
  ["64:ff9b:1::", 48, "ipv6", "local-use NAT64 (RFC 8215), whose IPv4 addresses are the network's own"],
  ["100::", 64, "ipv6", "discard-only"],
  ["2001::", 32, "ipv6", "Teredo, a tunnel to an IPv4 address it hides"],
  ["2001:2::", 48, "ipv6", "benchmarking"],
  ["2001:db8::", 32, "ipv6", "documentation"],
  ["fc00::", 7, "ipv6", "unique-local"],
  ["fe80::", 10, "ipv6", "link-local"],
  ["fec0::", 10, "ipv6", "site-local"],
  ["ff00::", 8, "ipv6", "multicast"],
];
const special = SPECIAL.map(([network, prefix, type, reason]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, type);
  return { list, type, reason };
});

/** The eight 16-bit groups of a valid IPv6 address (any spelling: `::`, a dotted-quad tail, a zone). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase().replace(/%.*$/, "");
  const dotted = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(2).map(Number) as [number, number, number, number];
    text = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const groups = (part: string) =>
    part === "" ? [] : part.split(":").map((group) => Number.parseInt(group, 16));
  const first = groups(head);
  const last = tail === undefined ? [] : groups(tail);
  return [...first, ...Array<number>(8 - first.length - last.length).fill(0), ...last];
}

/**
 * The IPv4 address an IPv6 one carries, in the forms that route to it: IPv4-mapped (`::ffff:0:0/96`), SIIT
 * (`::ffff:0:0:0/96`), IPv4-compatible (`::/96`, but `::` and `::1` are IPv6's own), the well-known NAT64 prefix
 * (`64:ff9b::/96`) and 6to4 (`2002::/16`). Such an address is judged by the IPv4 one. Teredo and local-use NAT64,
 * whose IPv4 part a network maps its own way, are refused outright (SPECIAL).
 */
function embeddedIpv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  const zero = (from: number, to: number) => g.slice(from, to).every((group) => group === 0);
  const ipv4 = (high: number, low: number) => [high >> 8, high & 255, low >> 8, low & 255].join(".");
  const [g0, g1, g2, , g4, g5, g6, g7] = g as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (zero(0, 5) && g5 === 0xffff) return ipv4(g6, g7);
  if (zero(0, 4) && g4 === 0xffff && g5 === 0) return ipv4(g6, g7);
  if (zero(0, 6) && !(g6 === 0 && g7 <= 1)) return ipv4(g6, g7);
  if (g0 === 0x64 && g1 === 0xff9b && zero(2, 6)) return ipv4(g6, g7);
  if (g0 === 0x2002) return ipv4(g1, g2);
  return undefined;
}

/** Why this address is refused under the policy, or undefined when it may be reached. */
export function refusedAddress(address: string, policy: AddressPolicy): string | undefined {
  if (policy === "private") return undefined;
  const family = isIP(address);
  if (family === 0) return "not an IP address";
  const v4 = family === 6 ? embeddedIpv4(address) : address;
  const [checked, type] = v4 !== undefined ? [v4, "ipv4" as const] : [address, "ipv6" as const];
  if (policy === "loopback" && loopback.check(checked, type)) return undefined;
  for (const range of special) {
    if (range.type === type && range.list.check(checked, type)) return range.reason;
  }
  return undefined;
}

function forbidden(message: string, url: string): RoadtollError {
  return new RoadtollError("DownloadForbiddenError", message, { where: { resource: redactUrl(url) } });
}

/**
 * Checks what can be checked from the link itself, before any connection: http(s) only, no credentials, a host
 * on the allow-list, and an IP-literal host allowed by the policy (the decimal, octal and hex spellings of an
 * address are normalised by the URL parser first, so `http://2130706433/` is judged as 127.0.0.1).
 */
export function checkLink(url: string, policy: LinkPolicy): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw forbidden("not a valid URL", url);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw forbidden(`only http and https links are followed, not ${parsed.protocol}`, url);
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw forbidden(
      "links with a user or password are refused: the credentials would travel in every log and result",
      url,
    );
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (policy.allowedHosts.length > 0 && !policy.allowedHosts.includes(host)) {
    throw forbidden(`host ${host} is not in DOWNLOAD_ALLOWED_HOSTS (${policy.allowedHosts.join(", ")})`, url);
  }
  if (isIP(host) !== 0) {
    const reason = refusedAddress(host, policy.addresses);
    if (reason) throw forbidden(`address ${host} is ${reason}; downloads reach public addresses only`, url);
  }
  return parsed;
}

type LookupCallback = (error: Error | null, address: string | ResolvedAddress[], family?: number) => void;

/**
 * A `lookup` for the connection itself (net.connect's option): it resolves the name once, refuses it when any
 * address is not allowed, and hands the checked addresses to the socket, which connects to one of them. There
 * is no second lookup between the check and the connection for DNS rebinding to exploit. Every redirect hop
 * connects through it too.
 */
export function guardedLookup(policy: AddressPolicy, resolve: Resolver) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    resolve(hostname).then(
      (addresses) => {
        if (addresses.length === 0) return callback(notFound(hostname), "");
        for (const { address } of addresses) {
          const reason = refusedAddress(address, policy);
          if (reason) {
            return callback(
              new RoadtollError(
                "DownloadForbiddenError",
                `host ${hostname} resolves to ${address}, which is ${reason}; downloads reach public addresses only`,
              ),
              "",
            );
          }
        }
        const first = addresses[0] as ResolvedAddress;
        if (options.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (error: unknown) => callback(error as Error, ""),
    );
  };
}

function notFound(hostname: string): Error {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND", hostname });
}
