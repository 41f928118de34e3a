import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDownloader, type Downloader } from "../src/adapters/http-download.js";
import type { AddressPolicy, Resolver } from "../src/adapters/link-safety.js";
import { loadDownloadConfig } from "../src/config.js";
import { startTestServer, type TestServer } from "./support/http.js";

// The downloader against a real server on loopback, with the DNS seam mapping made-up names to addresses, so
// that "a public name that resolves to an internal address" can be tested without leaving 127.0.0.1.
let server: TestServer;
let requests: string[] = [];
let port = 0;

/** Made-up names: files.example is the test server; the others are internal addresses. */
const DNS: Record<string, string[]> = {
  "files.example": ["127.0.0.1"],
  "metadata.example": ["169.254.169.254"],
  "intranet.example": ["10.0.0.5"],
  "mixed.example": ["8.8.8.8", "192.168.0.10"],
};
const resolve: Resolver = async (hostname) => {
  const addresses = DNS[hostname];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
  return addresses.map((address) => ({ address, family: 4 as const }));
};

function downloader(addressPolicy: AddressPolicy): Downloader {
  return createDownloader(
    { ...loadDownloadConfig({}), addressPolicy, timeoutMs: 2_000, maxRedirects: 3 },
    { resolve },
  );
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as Error,
  );

beforeAll(async () => {
  server = await startTestServer((request, response) => {
    const path = request.url ?? "/";
    requests.push(path);
    const redirect = (location: string) => response.writeHead(302, { location }).end();
    if (path === "/data.csv") response.writeHead(200).end("trecho;mortos\n");
    else if (path === "/to-metadata") redirect("http://169.254.169.254/latest/meta-data/");
    else if (path === "/to-loopback-name") redirect(`http://files.example:${port}/data.csv`);
    else if (path === "/to-intranet") redirect("http://intranet.example/secret.csv");
    else if (path === "/to-file") redirect("file:///etc/passwd");
    else if (path === "/to-decimal") redirect(`http://2130706433:${port}/data.csv`);
    else if (path === "/loop") redirect("/loop");
    else response.writeHead(404).end();
  });
  port = Number(new URL(server.url("/")).port);
});

afterAll(async () => {
  await server?.close();
});

describe("link safety: the Lambda's policy (public addresses only)", () => {
  const download = () => downloader("public");

  it("refuses a loopback link before any connection", async () => {
    requests = [];
    const error = await failure(download()(server.url("/data.csv")));
    expect(error).toMatchObject({ name: "DownloadForbiddenError" });
    expect(error?.message).toMatch(/address 127\.0\.0\.1 is loopback/);
    expect(requests).toEqual([]);
  });

  it("refuses a name that resolves to loopback, so the server is never reached", async () => {
    requests = [];
    const error = await failure(download()(`http://files.example:${port}/data.csv`));
    expect(error).toMatchObject({ name: "DownloadForbiddenError" });
    expect(error?.message).toMatch(/files\.example resolves to 127\.0\.0\.1, which is loopback/);
    expect(requests).toEqual([]);
  });

  it.each([
    ["metadata.example", /169\.254\.169\.254, which is link-local/],
    ["intranet.example", /10\.0\.0\.5, which is private/],
    ["mixed.example", /192\.168\.0\.10, which is private/],
  ])("refuses %s", async (host, message) => {
    const error = await failure(download()(`http://${host}/x.csv`));
    expect(error).toMatchObject({ name: "DownloadForbiddenError" });
    expect(error?.message).toMatch(message);
  });

  it("says a name that does not exist is not found, and not retryable", async () => {
    const error = await failure(download()("http://nowhere.example/x.csv"));
    expect(error).toMatchObject({ name: "DownloadError" });
    expect(error?.message).toMatch(/no such host/);
  });
});

describe("link safety: the local runner's policy (loopback too)", () => {
  const download = () => downloader("loopback");

  it("connects to the address it checked: a made-up name reaches the server only through the seam", async () => {
    const { body } = await download()(`http://files.example:${port}/data.csv`);
    let text = "";
    for await (const chunk of body) text += chunk;
    expect(text).toBe("trecho;mortos\n");
  });

  it.each([
    [
      "/to-metadata",
      /redirected to http:\/\/169\.254\.169\.254\/latest\/meta-data\/: address 169\.254\.169\.254 is link-local/,
    ],
    ["/to-intranet", /10\.0\.0\.5, which is private/],
    ["/to-file", /redirected to file:\/\/\/etc\/passwd: only http and https/],
  ])("checks every redirect hop: %s is refused", async (path, message) => {
    const error = await failure(download()(server.url(path)));
    expect(error).toMatchObject({ name: "DownloadForbiddenError" });
    expect(error?.message).toMatch(message);
  });

  it("follows a redirect to an allowed target, however its address is spelled", async () => {
    for (const path of ["/to-loopback-name", "/to-decimal"]) {
      const { body } = await download()(server.url(path));
      body.resume();
    }
  });

  it("counts redirect hops: a loop fails after the limit, saying so", async () => {
    requests = [];
    const error = await failure(download()(server.url("/loop")));
    expect(error).toMatchObject({ name: "DownloadError" });
    expect(error?.message).toMatch(/more than 3 redirects/);
    expect(requests).toHaveLength(4);
  });
});
