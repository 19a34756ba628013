// The one guard for every URL Aforo fetches on a tenant's behalf (alert channels, the proxy
// origin; export webhooks, brand extraction and the copilot when they come): https to a public
// host, nothing else. Checked when the URL is saved and again right before each fetch, since
// rows stored before a rule existed are still sent.
//
// - Only http(s); no credentials in the URL (they would be shown back in listings and logs).
// - The host must be public: loopback, private (RFC 1918, CGNAT, unique local), link-local,
//   unspecified, multicast, documentation, benchmarking and reserved space is refused, as are
//   cloud metadata names and addresses, IPv6 forms that embed an IPv4 address (mapped,
//   compatible, NAT64, 6to4, Teredo), single-label names and the private-use suffixes.
// - Numeric tricks (`2130706433`, `0x7f.1`, `017700000001`, `127.1`, `%31%32%37.0.0.1`) need no
//   code here: the WHATWG URL parser (the same one workerd's fetch uses) turns every IPv4 form
//   into a dotted quad and every IPv6 form into its canonical text before we look at the host.
// - Plain http is refused everywhere but loopback, and loopback only in local mode
//   (AFORO_LOCAL_NETWORK = "loopback": `wrangler dev` and the tests, whose receivers listen on
//   127.0.0.1). Deployed the variable is absent and loopback is refused like any private host.
// - Any port is allowed: every non-loopback target is https, so a TLS handshake is the first
//   thing the other end sees and no request can be smuggled into another protocol (SMTP on 25,
//   …), and the address, not the port, is what keeps a fetch out of internal networks.
// - DNS is not resolved: a public name that resolves to a private address is not caught here.
//   Workers cannot resolve arbitrary names before fetching, and Cloudflare's egress does not
//   route to RFC 1918 or link-local space, so deployed such a fetch fails on its own. A fake
//   resolution check would only look like protection.

/** The value of AFORO_LOCAL_NETWORK that allows loopback hosts (and nothing else private). */
export const LOCAL_NETWORK_LOOPBACK = "loopback";

export interface OutboundOptions {
  /** AFORO_LOCAL_NETWORK: exactly "loopback" allows loopback hosts over http or https. */
  localNetwork?: string | undefined;
}

/** `url` is the normalised URL that was checked: fetch exactly that. */
export type OutboundUrl = { ok: true; url: string } | { ok: false; reason: string };

const refuse = (reason: string): OutboundUrl => ({ ok: false, reason });

export function checkOutboundUrl(raw: string, options: OutboundOptions = {}): OutboundUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse("not a valid URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return refuse(`only http or https URLs can be fetched, not ${url.protocol}`);
  }
  if (url.username || url.password) return refuse("credentials in the URL are not allowed");
  const host = classifyHost(url.hostname);
  if (host.kind === "refused") return refuse(`${url.hostname} is ${host.why}`);
  if (host.kind === "loopback") {
    return options.localNetwork === LOCAL_NETWORK_LOOPBACK
      ? { ok: true, url: url.href }
      : refuse(
          `${url.hostname} is a loopback address; loopback is allowed only in local mode (AFORO_LOCAL_NETWORK=loopback)`,
        );
  }
  if (url.protocol !== "https:") {
    return refuse("use https: plain http is allowed only to a loopback address in local mode");
  }
  return { ok: true, url: url.href };
}

type HostKind = { kind: "public" } | { kind: "loopback" } | { kind: "refused"; why: string };

const PUBLIC: HostKind = { kind: "public" };
const LOOPBACK: HostKind = { kind: "loopback" };
const refused = (why: string): HostKind => ({ kind: "refused", why });

/** Classifies a hostname as the URL parser serialises it (lowercase; IPv6 in brackets). */
export function classifyHost(hostname: string): HostKind {
  if (hostname.startsWith("[")) return classifyIpv6(hostname.slice(1, -1));
  const v4 = ipv4(hostname);
  if (v4 !== null) return classifyIpv4(v4);
  return classifyName(hostname.replace(/\.+$/, ""));
}

// IPv4 ------------------------------------------------------------------------------------------

/** A dotted quad as a 32-bit unsigned integer, or null for anything else. */
function ipv4(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return parts.reduce((n, p) => n * 256 + p, 0);
}

const quad = (a: number, b: number, c: number, d: number) => ((a * 256 + b) * 256 + c) * 256 + d;

/** [base, prefix length, what it is]; the first match wins, so specific entries come first. */
const IPV4_RANGES: [number, number, HostKind][] = [
  [quad(169, 254, 169, 254), 32, refused("the cloud metadata address (AWS, GCP, Azure, …)")],
  [quad(100, 100, 100, 200), 32, refused("a cloud metadata address (Alibaba Cloud)")],
  [quad(0, 0, 0, 0), 8, refused("unspecified ('this network', 0.0.0.0/8)")],
  [quad(10, 0, 0, 0), 8, refused("a private address (10.0.0.0/8)")],
  [quad(100, 64, 0, 0), 10, refused("shared address space (carrier-grade NAT, 100.64.0.0/10)")],
  [quad(127, 0, 0, 0), 8, LOOPBACK],
  [quad(169, 254, 0, 0), 16, refused("a link-local address (169.254.0.0/16)")],
  [quad(172, 16, 0, 0), 12, refused("a private address (172.16.0.0/12)")],
  [quad(192, 0, 0, 0), 24, refused("IETF protocol assignment space (192.0.0.0/24)")],
  [quad(192, 0, 2, 0), 24, refused("a documentation address (TEST-NET-1)")],
  [quad(192, 88, 99, 0), 24, refused("the deprecated 6to4 relay anycast range")],
  [quad(192, 168, 0, 0), 16, refused("a private address (192.168.0.0/16)")],
  [quad(198, 18, 0, 0), 15, refused("benchmarking space (198.18.0.0/15)")],
  [quad(198, 51, 100, 0), 24, refused("a documentation address (TEST-NET-2)")],
  [quad(203, 0, 113, 0), 24, refused("a documentation address (TEST-NET-3)")],
  [quad(224, 0, 0, 0), 4, refused("a multicast address (224.0.0.0/4)")],
  [quad(255, 255, 255, 255), 32, refused("the broadcast address")],
  [quad(240, 0, 0, 0), 4, refused("reserved space (240.0.0.0/4)")],
];

function classifyIpv4(address: number): HostKind {
  for (const [base, bits, kind] of IPV4_RANGES) {
    const size = 2 ** (32 - bits);
    if (Math.floor(address / size) === Math.floor(base / size)) return kind;
  }
  return PUBLIC;
}

// IPv6 ------------------------------------------------------------------------------------------

/** The eight 16-bit groups of an IPv6 address in the URL parser's canonical form, or null. */
function ipv6Groups(text: string): number[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => Number.parseInt(g, 16)));
  const head = parse(halves[0] ?? "");
  const tail = halves.length === 2 ? parse(halves[1] ?? "") : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return null;
  const groups = [...head, ...Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

function classifyIpv6(text: string): HostKind {
  const g = ipv6Groups(text);
  if (!g) return refused("not an IPv6 address this guard can read");
  const [g0 = 0, g1 = 0, , , , g5 = 0, , g7 = 0] = g;
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroTo(8)) return refused("the unspecified address (::)");
  if (zeroTo(7) && g7 === 1) return LOOPBACK;
  if (zeroTo(5) && g5 === 0xffff) {
    return refused("an IPv4-mapped IPv6 address (::ffff:a.b.c.d reaches an IPv4 host)");
  }
  if (zeroTo(6)) return refused("an IPv4-compatible IPv6 address (deprecated, embeds IPv4)");
  if (g0 === 0x64 && g1 === 0xff9b) return refused("a NAT64 address (embeds an IPv4 address)");
  if (g0 === 0xfd00 && g1 === 0x0ec2 && g.slice(2, 7).every((x) => x === 0) && g7 === 0x254) {
    return refused("the cloud metadata address (AWS, IPv6)");
  }
  if ((g0 & 0xfe00) === 0xfc00) return refused("a unique local address (private IPv6, fc00::/7)");
  if ((g0 & 0xffc0) === 0xfe80) return refused("a link-local address (fe80::/10)");
  if ((g0 & 0xffc0) === 0xfec0) return refused("a site-local address (deprecated, fec0::/10)");
  if ((g0 & 0xff00) === 0xff00) return refused("a multicast address (ff00::/8)");
  if ((g0 & 0xe000) !== 0x2000) return refused("not a global unicast address (outside 2000::/3)");
  if (g0 === 0x2001 && g1 === 0x0db8) return refused("a documentation address (2001:db8::/32)");
  if (g0 === 0x3fff && g1 < 0x1000) return refused("a documentation address (3fff::/20)");
  if (g0 === 0x2002) return refused("a 6to4 address (2002::/16 embeds an IPv4 address)");
  if (g0 === 0x2001 && g1 === 0) return refused("a Teredo address (2001::/32 embeds IPv4)");
  if (g0 === 0x2001 && g1 < 0x0200) {
    return refused("IETF special-purpose space (2001::/23: benchmarking, ORCHID, …)");
  }
  return PUBLIC;
}

// Names -----------------------------------------------------------------------------------------

/** Names of cloud metadata services (most also fall under the rules below; named for the
 * reason an operator reads). */
const METADATA_NAMES = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
  "metadata.tencentyun.com",
]);

/** Suffixes reserved for names inside a private network. */
const PRIVATE_SUFFIXES: [string, string][] = [
  [".local", "a .local name (multicast DNS on the local network)"],
  [".internal", "a .internal name (reserved for private networks)"],
  [".home.arpa", "a .home.arpa name (home networks, RFC 8375)"],
  [".localdomain", "a .localdomain name (the local host or network)"],
];

function classifyName(name: string): HostKind {
  if (METADATA_NAMES.has(name)) return refused("a cloud metadata service name");
  if (name === "localhost" || name.endsWith(".localhost")) return LOOPBACK;
  if (!name.includes(".")) {
    return refused(
      "a single-label host name (resolved through the local network's search domains)",
    );
  }
  for (const [suffix, why] of PRIVATE_SUFFIXES) {
    if (name.endsWith(suffix)) return refused(why);
  }
  return PUBLIC;
}
