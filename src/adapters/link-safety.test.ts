import { describe, expect, it } from "vitest";
import { checkLink, type LinkPolicy, refusedAddress } from "./link-safety.js";

describe("refusedAddress", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["10.1.2.3", "private (RFC 1918)"],
    ["172.16.0.1", "private (RFC 1918)"],
    ["172.31.255.255", "private (RFC 1918)"],
    ["192.168.1.1", "private (RFC 1918)"],
    ["100.64.0.1", "shared address space (CGNAT)"],
    ["169.254.169.254", "link-local (instance metadata lives here)"],
    ["0.0.0.0", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fc00::1", "unique-local"],
    ["fd12:3456::1", "unique-local"],
    ["fe80::1", "link-local"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:a9fe:a9fe", "link-local (instance metadata lives here)"],
    ["64:ff9b::a9fe:a9fe", "link-local (instance metadata lives here)"],
    ["::ffff:10.0.0.1", "private (RFC 1918)"],
    // Every IPv6 form that carries an IPv4 address, judged by that address.
    ["::a9fe:a9fe", "link-local (instance metadata lives here)"],
    ["::169.254.169.254", "link-local (instance metadata lives here)"],
    ["::7f00:1", "loopback"],
    ["0:0:0:0:0:0:127.0.0.1", "loopback"],
    ["::ffff:0:a9fe:a9fe", "link-local (instance metadata lives here)"],
    ["::ffff:0:10.0.0.1", "private (RFC 1918)"],
    ["64:ff9b::169.254.169.254", "link-local (instance metadata lives here)"],
    ["2002:a9fe:a9fe::1", "link-local (instance metadata lives here)"],
    ["2002:7f00:1:1::", "loopback"],
    ["2002:c0a8:101::", "private (RFC 1918)"],
    ["64:ff9b:1::a9fe:a9fe", "local-use NAT64 (RFC 8215), whose IPv4 addresses are the network's own"],
    ["64:ff9b:1:ffff::808:808", "local-use NAT64 (RFC 8215), whose IPv4 addresses are the network's own"],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo, a tunnel to an IPv4 address it hides"],
    ["2001:2::1", "benchmarking"],
    ["fe80::1%eth0", "link-local"],
  ])("refuses %s as %s", (address, reason) => {
    expect(refusedAddress(address, "public")).toBe(reason);
  });

  it.each([
    "8.8.8.8",
    "200.152.38.1",
    "172.32.0.1",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "::808:808",
    "64:ff9b::808:808",
    "2002:808:808::1",
    "2606:4700:4700::1111",
  ])("lets %s through", (address) => {
    expect(refusedAddress(address, "public")).toBeUndefined();
  });

  it("allows loopback, and only loopback, under the local runner's policy", () => {
    for (const address of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
      expect(refusedAddress(address, "loopback"), address).toBeUndefined();
    }
    expect(refusedAddress("10.0.0.1", "loopback")).toBe("private (RFC 1918)");
    expect(refusedAddress("169.254.169.254", "loopback")).toBeDefined();
    expect(refusedAddress("::a9fe:a9fe", "loopback")).toBeDefined();
  });

  it("allows any address when private hosts are allowed on purpose", () => {
    expect(refusedAddress("10.0.0.1", "private")).toBeUndefined();
  });
});

describe("checkLink", () => {
  const policy: LinkPolicy = { addresses: "public", allowedHosts: [] };
  const refusal = (url: string, given = policy) => {
    try {
      checkLink(url, given);
    } catch (error) {
      return error as Error & { where?: { file?: string } };
    }
    throw new Error(`${url} was not refused`);
  };

  it.each([
    ["http://127.0.0.1/x.csv", /address 127\.0\.0\.1 is loopback/],
    ["http://2130706433/x.csv", /address 127\.0\.0\.1 is loopback/],
    ["http://0177.0.0.1/x.csv", /address 127\.0\.0\.1 is loopback/],
    ["http://0x7f.1/x.csv", /address 127\.0\.0\.1 is loopback/],
    ["http://[::1]:8080/x.csv", /address ::1 is loopback/],
    ["http://[::ffff:127.0.0.1]/x.csv", /is loopback/],
    ["http://169.254.169.254/latest/meta-data/", /link-local/],
    ["http://[::a9fe:a9fe]/latest/meta-data/", /link-local/],
    ["http://[::ffff:0:a9fe:a9fe]/", /link-local/],
    ["http://[64:ff9b:1::a9fe:a9fe]/", /local-use NAT64/],
    ["http://[2002:a9fe:a9fe::1]/", /link-local/],
    ["http://[::7f00:1]:8080/x.csv", /loopback/],
    ["http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", /Teredo/],
    ["file:///etc/passwd", /only http and https/],
    ["ftp://example.com/x.csv", /only http and https/],
    ["https://user:pw@example.com/x.csv", /user or password/],
  ])("refuses %s with DownloadForbiddenError, before any connection", (url, message) => {
    const error = refusal(url);
    expect(error.name).toBe("DownloadForbiddenError");
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain("pw@");
  });

  it("keeps to the allow-list when one is set", () => {
    const listed: LinkPolicy = { addresses: "public", allowedHosts: ["dados.antt.gov.br"] };
    expect(checkLink("https://DADOS.antt.gov.br/x.csv", listed).hostname).toBe("dados.antt.gov.br");
    expect(refusal("https://evil.example/x.csv", listed).message).toMatch(
      /host evil\.example is not in DOWNLOAD_ALLOWED_HOSTS/,
    );
  });

  it("lets a public link through", () => {
    expect(checkLink("https://dados.antt.gov.br/a.csv?x=1", policy).href).toBe(
      "https://dados.antt.gov.br/a.csv?x=1",
    );
  });
});
