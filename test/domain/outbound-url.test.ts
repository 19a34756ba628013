import { describe, expect, it } from "vitest";
import { checkOutboundUrl } from "../../domain/outbound-url";

// The one guard for every URL Aforo fetches (issue 11, defect 5): channels, the send path and
// the proxy origin. Each row: the URL, what a deployed worker decides, what local mode
// (AFORO_LOCAL_NETWORK=loopback) decides. "ok" allows; any other text must appear in the reason.

type Row = [url: string, deployed: string, local: string];

const TABLE: Row[] = [
  // Public https: allowed, on any port.
  ["https://hooks.slack.com/services/T0/B0/XXXX", "ok", "ok"],
  ["https://example.com:8443/hook?x=1", "ok", "ok"],
  ["https://8.8.8.8/", "ok", "ok"],
  ["https://[2606:4700:4700::1111]/dns", "ok", "ok"],
  ["https://[2001:4860:4860::8888]/", "ok", "ok"],
  ["https://API.Example.COM./v1", "ok", "ok"],
  // Scheme and credentials.
  ["http://example.com/hook", "use https", "use https"],
  ["ftp://example.com/file", "http or https", "http or https"],
  ["file:///etc/passwd", "http or https", "http or https"],
  ["javascript:alert(1)", "http or https", "http or https"],
  ["https://user:pass@example.com/", "credentials", "credentials"],
  ["https://token@example.com/", "credentials", "credentials"],
  ["not a url", "not a valid URL", "not a valid URL"],
  // Loopback: only in local mode, over http or https.
  ["http://127.0.0.1:8787/hooks/a", "loopback", "ok"],
  ["https://127.0.0.1/", "loopback", "ok"],
  ["http://127.255.255.254/", "loopback", "ok"],
  ["http://localhost:9/hook", "loopback", "ok"],
  ["http://LOCALHOST./", "loopback", "ok"],
  ["http://api.localhost/", "loopback", "ok"],
  ["http://[::1]:8080/", "loopback", "ok"],
  ["http://[0:0:0:0:0:0:0:1]/", "loopback", "ok"],
  // Numeric tricks the URL parser turns into 127.0.0.1 (and so into loopback).
  ["http://2130706433/", "loopback", "ok"],
  ["http://0x7f.1/", "loopback", "ok"],
  ["http://017700000001/", "loopback", "ok"],
  ["http://127.1/", "loopback", "ok"],
  ["http://0x7f000001/", "loopback", "ok"],
  ["http://%31%32%37.0.0.1/", "loopback", "ok"],
  ["http://\uff11\uff12\uff17.0.0.1/", "loopback", "ok"],
  // IPv4-mapped and -embedding IPv6: refused even in local mode.
  ["http://[::ffff:127.0.0.1]/", "IPv4-mapped", "IPv4-mapped"],
  ["https://[::ffff:169.254.169.254]/", "IPv4-mapped", "IPv4-mapped"],
  ["https://[::ffff:8.8.8.8]/", "IPv4-mapped", "IPv4-mapped"],
  ["https://[::127.0.0.1]/", "IPv4-compatible", "IPv4-compatible"],
  ["https://[64:ff9b::7f00:1]/", "NAT64", "NAT64"],
  ["https://[2002:7f00:1::]/", "6to4", "6to4"],
  ["https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo", "Teredo"],
  // Link-local and cloud metadata.
  ["https://169.254.169.254/latest/meta-data/", "metadata", "metadata"],
  ["http://169.254.169.254/latest", "metadata", "metadata"],
  ["https://169.254.10.1/", "link-local", "link-local"],
  ["https://[fe80::1]/", "link-local", "link-local"],
  ["https://[fd00:ec2::254]/", "metadata", "metadata"],
  ["https://metadata.google.internal/computeMetadata/v1/", "metadata", "metadata"],
  ["https://metadata.google.internal./computeMetadata/v1/", "metadata", "metadata"],
  ["http://metadata/computeMetadata/v1/", "metadata", "metadata"],
  ["https://100.100.100.200/latest/meta-data/", "metadata", "metadata"],
  // Private, shared and unspecified.
  ["https://10.0.0.1/", "private", "private"],
  ["https://172.16.5.4/", "private", "private"],
  ["https://172.31.255.255/", "private", "private"],
  ["https://172.32.0.1/", "ok", "ok"],
  ["https://192.168.1.1/", "private", "private"],
  ["https://100.64.0.1/", "shared", "shared"],
  ["https://[fc00::1]/", "unique local", "unique local"],
  ["https://[fdab:cdef::1]/", "unique local", "unique local"],
  ["http://0.0.0.0/", "unspecified", "unspecified"],
  ["http://0/", "unspecified", "unspecified"],
  ["https://[::]/", "unspecified", "unspecified"],
  // Other special-purpose space and names.
  ["https://224.0.0.1/", "multicast", "multicast"],
  ["https://[ff02::1]/", "multicast", "multicast"],
  ["https://255.255.255.255/", "broadcast", "broadcast"],
  ["https://192.0.2.10/", "documentation", "documentation"],
  ["https://[2001:db8::1]/", "documentation", "documentation"],
  ["https://[3fff::1]/", "documentation", "documentation"],
  ["https://198.18.0.1/", "benchmarking", "benchmarking"],
  ["https://240.0.0.1/", "reserved", "reserved"],
  ["https://intranet/", "single-label", "single-label"],
  ["https://printer.local/", ".local", ".local"],
  ["https://db.internal/", ".internal", ".internal"],
  ["https://nas.home.arpa/", ".home.arpa", ".home.arpa"],
];

describe("checkOutboundUrl", () => {
  it.each(TABLE)("%s → deployed: %s, local: %s", (url, deployed, local) => {
    for (const [expected, localNetwork] of [
      [deployed, undefined],
      [local, "loopback"],
    ] as const) {
      const result = checkOutboundUrl(url, { localNetwork });
      if (expected === "ok") {
        expect(result, JSON.stringify(result)).toMatchObject({ ok: true });
      } else {
        expect(result.ok, `${url} should be refused (${localNetwork ?? "deployed"})`).toBe(false);
        if (!result.ok) expect(result.reason).toContain(expected);
      }
    }
  });

  it("names the host it refused, so the operator can tell what to fix", () => {
    const result = checkOutboundUrl("http://2130706433/x");
    expect(result).toEqual({
      ok: false,
      reason: expect.stringContaining("127.0.0.1"),
    });
  });

  it("allows loopback only for the exact value 'loopback'", () => {
    for (const localNetwork of ["", "true", "LOOPBACK ", "private", "1"]) {
      expect(checkOutboundUrl("http://127.0.0.1/", { localNetwork }).ok).toBe(false);
    }
  });

  it("answers the URL it checked, normalised, so the caller fetches exactly that", () => {
    const result = checkOutboundUrl("HTTPS://Hooks.Example.COM:443/a/../b?q=1");
    expect(result).toEqual({ ok: true, url: "https://hooks.example.com/b?q=1" });
  });
});
