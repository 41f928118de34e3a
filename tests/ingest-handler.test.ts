import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HEADER } from "../scripts/generate-samples.js";
import { createDownloader } from "../src/adapters/http-download.js";
import { loadDownloadConfig } from "../src/config.js";
import { createIngestHandler, type IngestHandler } from "../src/handlers/ingest-handler.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import { startTestServer, type TestServer } from "./support/http.js";
import { startTestStorage, type TestStorage } from "./support/storage.js";

const SAMPLES = fileURLToPath(new URL("../samples/", import.meta.url));

let storage: TestStorage;
let files: RunningFileServer;
let scripted: TestServer;
let ingest: IngestHandler;
/** What the scripted server does for each path. */
let cutAfterBytes = 0;
let flakyFailures = 0;
let busyOnce = false;
let throttledOnce = false;
/** Requests the scripted server has received. */
let requests = 0;

beforeAll(async () => {
  storage = await startTestStorage();
  files = await startFileServer(SAMPLES);
  const latin1 = await readFile(`${SAMPLES}amostra_via_norte.csv`);
  scripted = await startTestServer((request, response) => {
    requests++;
    // Routed on the path alone: a link's query (a token, say) does not change what is served.
    const path = (request.url ?? "/").split("?")[0] as string;
    if (path.startsWith("/redirect/")) {
      const hops = Number(path.split("/")[2]);
      const next = hops > 1 ? `/redirect/${hops - 1}` : "/file.csv";
      response.writeHead(302, { location: next }).end();
    } else if (path === "/file.csv") {
      response.writeHead(200, { "content-type": "text/csv" }).end(latin1);
    } else if (path === "/missing.csv") {
      response.writeHead(404).end("not here");
    } else if (path === "/unavailable.csv") {
      response.writeHead(503).end();
    } else if (path === "/stall-mid-body.csv") {
      // Headers and part of the file, then silence with the connection open.
      response.writeHead(200, { "content-length": String(latin1.length) });
      response.write(latin1.subarray(0, 10_000));
    } else if (path === "/short.csv") {
      // Announces the whole file, sends half, then closes cleanly: the length lied, the file is not complete.
      response.writeHead(200, { "content-length": String(latin1.length) });
      response.write(latin1.subarray(0, latin1.length >> 1), () => response.socket?.end());
    } else if (path === "/trickle.csv") {
      // A byte every 100 ms, for ever: no pause is long enough for the timeout, only the deadline ends it.
      response.writeHead(200, { "content-type": "text/csv" });
      response.write(`${HEADER}\n`);
      const drip = setInterval(() => {
        if (response.destroyed) clearInterval(drip);
        else response.write("0");
      }, 100);
      response.on("close", () => clearInterval(drip));
    } else if (path === "/stall.csv") {
      // Never answers: the downloader's timeout must end the wait.
    } else if (path === "/cut.csv") {
      response.writeHead(200, { "content-length": String(latin1.length) });
      response.write(latin1.subarray(0, cutAfterBytes), () => response.socket?.destroy());
    } else if (path === "/no-mortos.csv") {
      response.writeHead(200).end(`${HEADER.replace(";mortos", "")}\n01/01/2021;x\n`);
    } else if (path === "/broken-quote.csv") {
      // Line 3 opens a quote that nothing closes: every later row boundary is in doubt.
      const row = "01/01/2021;00:03:00;1;com vítima;349;BR-116/BA;Norte;Tombamento;1;;;;;;;;;;;;;;1";
      response.writeHead(200).end(`${HEADER}\n${row}\n"${row}\n${row}\n`);
    } else if (path === "/endless.csv") {
      // Chunked, no length: only counting the bytes can stop it.
      response.writeHead(200, { "content-type": "text/csv" });
      const row = Buffer.from("01/01/2021;00:03:00;1;x;1;BR-116/BA;N;T;1;;;;;;;;;;;;;;1\n".repeat(100));
      response.write(`${HEADER}\n`);
      const more = () => {
        while (!response.destroyed && response.write(row)) {}
        if (!response.destroyed) response.once("drain", more);
      };
      more();
    } else if (path === "/announced-large.csv") {
      response.writeHead(200, { "content-length": String(10 * 1024 * 1024) });
      response.write(latin1);
    } else if (path === "/gzip.csv") {
      response.writeHead(200, { "content-encoding": "gzip" }).end(gzipSync(latin1));
    } else if (path === "/deflate.csv") {
      response.writeHead(200, { "content-encoding": "deflate" }).end(deflateSync(latin1));
    } else if (path === "/br.csv") {
      response.writeHead(200, { "content-encoding": "br" }).end(brotliCompressSync(latin1));
    } else if (path === "/file.csv.gz") {
      response.writeHead(200, { "content-type": "application/gzip" }).end(gzipSync(latin1));
    } else if (path === "/zstd.csv") {
      response.writeHead(200, { "content-encoding": "zstd" }).end(latin1);
    } else if (path === "/corrupt.csv.gz") {
      response.writeHead(200).end(Buffer.concat([gzipSync(latin1).subarray(0, 200), Buffer.alloc(200, 7)]));
    } else if (path === "/bomb.csv.gz") {
      // 50 MB of zeros-like CSV in ~50 KB: only a limit on the decoded bytes stops it.
      response
        .writeHead(200)
        .end(gzipSync(Buffer.concat([Buffer.from(`${HEADER}\n`), Buffer.alloc(50_000_000, 0x3b)])));
    } else if (path === "/busy.csv") {
      // Busy once, for one second; then the file.
      if (busyOnce) {
        busyOnce = false;
        response.writeHead(503, { "retry-after": "1" }).end();
      } else response.writeHead(200).end(latin1);
    } else if (path === "/throttled.csv") {
      if (throttledOnce) {
        throttledOnce = false;
        // An HTTP date has whole seconds: two seconds ahead is at least one second of waiting.
        response.writeHead(429, { "retry-after": new Date(Date.now() + 2_000).toUTCString() }).end();
      } else response.writeHead(200).end(latin1);
    } else if (path === "/busy-forever.csv") {
      response.writeHead(503, { "retry-after": "0" }).end();
    } else if (path === "/busy-for-an-hour.csv") {
      response.writeHead(503, { "retry-after": "3600" }).end();
    } else if (path === "/utf16.csv") {
      response.writeHead(200).end(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(HEADER, "utf16le")]));
    } else if (path === "/flaky.csv") {
      if (flakyFailures-- > 0) response.writeHead(503).end();
      else response.writeHead(200).end(latin1);
    } else {
      response.writeHead(404).end();
    }
  });
  ingest = createIngestHandler({
    store: storage.ingest.store,
    // Short enough that the stalled-server case is quick, long enough for a loaded 2-core CI machine.
    download: createDownloader({
      ...loadDownloadConfig({}),
      addressPolicy: "loopback",
      timeoutMs: 2_000,
      maxRedirects: 3,
    }),
    links: { Amostra_Norte: `${files.baseUrl}/amostra_via_norte.csv` },
  });
});

afterAll(async () => {
  await files?.close();
  await scripted?.close();
  await storage?.close();
});

describe("ingest handler", () => {
  it("stores the raw bytes unchanged and a clean UTF-8 copy, and reports what it wrote", async () => {
    const source = await readFile(`${SAMPLES}amostra_via_norte.csv`);
    const result = await ingest({ url: `${files.baseUrl}/amostra_via_norte.csv`, source: "Norte" });

    expect(result).toMatchObject({
      bucket: storage.bucket,
      source: "Norte",
      encoding: "iso-8859-1",
      bytes: source.length,
      sha256: createHash("sha256").update(source).digest("hex"),
    });
    expect(result.key).toBe(`clean/Norte/${result.runId}.csv`);
    expect(result.rawKey).toBe(`raw/Norte/${result.runId}.csv`);
    expect(result.runId).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{6}$/);
    // Rows: every non-blank line but the header, counted independently of the pipeline.
    const lines = source.toString("latin1").split("\n");
    expect(result.rows).toBe(lines.filter((line) => line !== "").length - 1);

    expect((await storage.bytes(result.rawKey)).equals(source)).toBe(true);
    const clean = (await storage.bytes(result.key)).toString("utf8");
    expect(result.cleanBytes).toBe(Buffer.byteLength(clean));
    const [header, first] = clean.split("\n");
    expect(header).toBe(`${HEADER.replaceAll(";", ",")},source_line,road_name`);
    // Row 1 of the sample: the latin-1 "vítima" decoded, the quoted field escaped, the road canonicalised.
    expect(first).toBe(
      '01/01/2021,00:03:00,1,Sem vítima,349,BR-116/BA,Norte,"Choque - Defensa, barreira ou ""submarino""",,0,,,,,,,,,,,,0,,2,BR-116/BA',
    );
    expect(clean).toContain(",BR-70/MT,");
    expect(clean).toContain(",BR-070/MT\n");
  });

  it("resolves a link by its name in link.yml", async () => {
    const result = await ingest({ source: "Amostra_Norte" });
    expect(result.url).toBe(`${files.baseUrl}/amostra_via_norte.csv`);
    expect(result.key.startsWith("clean/Amostra_Norte/")).toBe(true);
  });

  it("names a URL-only link after its file and detects UTF-8 with a BOM", async () => {
    const result = await ingest({ url: `${files.baseUrl}/amostra_via_sul_bom.csv` });
    expect(result.source).toBe("amostra_via_sul_bom");
    expect(result.encoding).toBe("utf-8-bom");
    const clean = (await storage.bytes(result.key)).toString("utf8");
    expect(clean.startsWith("data,horario,")).toBe(true);
    expect(clean).toContain("ACESSOS NITEROI");
  });

  it("follows a bounded number of redirects", async () => {
    await expect(ingest({ url: scripted.url("/redirect/2") })).resolves.toMatchObject({
      encoding: "iso-8859-1",
    });
    await expect(ingest({ url: scripted.url("/redirect/5"), source: "TooFar" })).rejects.toMatchObject({
      name: "DownloadError",
    });
    expect(await storage.keys("raw/TooFar/")).toEqual([]);
  });

  it.each([
    ["/missing.csv", "DownloadError", /HTTP 404/],
    ["/unavailable.csv", "DownloadUnavailableError", /HTTP 503/],
    ["/stall.csv", "DownloadUnavailableError", /timeout/i],
    ["/stall-mid-body.csv", "DownloadUnavailableError", /timeout/i],
    ["/short.csv", "DownloadUnavailableError", /download interrupted/],
  ])("fails %s with %s and leaves no object", async (path, name, message) => {
    const source = `Case${path.replace(/\W/g, "")}`;
    const error = await ingest({ url: scripted.url(path), source }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name, message: expect.stringMatching(message) });
    expect((error as Error).message).toContain(scripted.url(path));
    expect(await storage.keys(`raw/${source}/`)).toEqual([]);
    expect(await storage.keys(`clean/${source}/`)).toEqual([]);
  });

  it("ends a download that trickles past DOWNLOAD_DEADLINE_MS, leaving no object, and says so", async () => {
    const trickled = createIngestHandler({
      store: storage.ingest.store,
      download: createDownloader({
        ...loadDownloadConfig({ DOWNLOAD_DEADLINE_MS: "1500" }),
        addressPolicy: "loopback",
        timeoutMs: 2_000,
      }),
      links: {},
    });
    const started = Date.now();
    const error = await trickled({ url: scripted.url("/trickle.csv"), source: "Trickle" }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({
      name: "DownloadError",
      message: expect.stringMatching(/longer than 2 s \(DOWNLOAD_DEADLINE_MS\)/),
      where: { resource: scripted.url("/trickle.csv") },
    });
    // Ended by the deadline, not by a timeout of one pause (none is longer than 100 ms).
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await storage.keys("raw/Trickle/")).toEqual([]);
    expect(await storage.keys("clean/Trickle/")).toEqual([]);
  });

  it("treats a connection cut mid-body as retryable and aborts both uploads", async () => {
    cutAfterBytes = 5_000;
    const error = await ingest({ url: scripted.url("/cut.csv"), source: "Cut" }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ name: "DownloadUnavailableError" });
    expect(await storage.keys("raw/Cut/")).toEqual([]);
    expect(await storage.keys("clean/Cut/")).toEqual([]);
  });

  it("names every missing required column, and the file", async () => {
    const error = await ingest({ url: scripted.url("/no-mortos.csv"), source: "NoMortos" }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: "HeaderError", where: { resource: "no-mortos.csv", line: 1 } });
    expect((error as Error).message).toMatch(/^no-mortos\.csv, line 1: missing required column mortos/);
    expect(await storage.keys("clean/NoMortos/")).toEqual([]);
  });

  it("fails on a quote that is never closed with CsvFormatError naming line and field, and leaves no object", async () => {
    const error = await ingest({ url: scripted.url("/broken-quote.csv"), source: "Broken" }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({
      name: "CsvFormatError",
      where: { resource: "broken-quote.csv", line: 3, column: "field 1" },
    });
    expect((error as Error).message).toContain("a quoted field is never closed");
    expect(await storage.keys("raw/Broken/")).toEqual([]);
    expect(await storage.keys("clean/Broken/")).toEqual([]);
  });

  describe("with a download limit of 100,000 bytes", () => {
    let limited: IngestHandler;
    beforeAll(() => {
      limited = createIngestHandler({
        store: storage.ingest.store,
        download: createDownloader({
          ...loadDownloadConfig({}),
          addressPolicy: "loopback",
          timeoutMs: 2_000,
          maxBytes: 100_000,
        }),
        links: {},
      });
    });

    it("cuts an endless body with DownloadTooLargeError once the limit is passed, and leaves no object", async () => {
      const error = await limited({ url: scripted.url("/endless.csv"), source: "Endless" }).catch(
        (caught: unknown) => caught,
      );
      expect(error).toMatchObject({ name: "DownloadTooLargeError" });
      expect((error as Error).message).toContain("limited to 100,000 bytes");
      expect(await storage.keys("raw/Endless/")).toEqual([]);
      expect(await storage.keys("clean/Endless/")).toEqual([]);
    });

    it("refuses a body whose announced length is over the limit before reading it", async () => {
      const error = await limited({ url: scripted.url("/announced-large.csv"), source: "Announced" }).catch(
        (caught: unknown) => caught,
      );
      expect(error).toMatchObject({ name: "DownloadTooLargeError" });
      expect((error as Error).message).toContain("the server announces 10,485,760 bytes");
      expect(await storage.keys("raw/Announced/")).toEqual([]);
    });

    it("counts decoded bytes: a decompression bomb is cut at the limit", async () => {
      const error = await limited({ url: scripted.url("/bomb.csv.gz"), source: "Bomb" }).catch(
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ name: "DownloadTooLargeError" });
      expect(await storage.keys("raw/Bomb/")).toEqual([]);
    });

    it("takes a file under the limit whole", async () => {
      const source = await readFile(`${SAMPLES}amostra_via_norte.csv`);
      expect(source.length).toBeLessThan(100_000);
      const result = await limited({ url: scripted.url("/file.csv"), source: "UnderLimit" });
      expect(result.bytes).toBe(source.length);
    });
  });

  it("downloads a link with a query token but never shows the token: result, S3 metadata, errors", async () => {
    const result = await ingest({ url: `${scripted.url("/file.csv")}?token=S3CRET&v=2`, source: "Token" });
    expect(result.url).toBe(`${scripted.url("/file.csv")}?token=***&v=***`);
    for (const key of [result.key, result.rawKey]) {
      const head = await storage.s3.send(new HeadObjectCommand({ Bucket: storage.bucket, Key: key }));
      expect(head.Metadata?.["source-url"]).toBe(result.url);
    }
    const error = await ingest({
      url: `${scripted.url("/missing.csv")}?token=S3CRET`,
      source: "Token",
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: "DownloadError" });
    expect(JSON.stringify({ ...(error as object), message: (error as Error).message })).not.toContain(
      "S3CRET",
    );
    expect((error as Error).message).toContain("/missing.csv?token=***");
  });

  it("refuses a link with a user and password with DownloadForbiddenError, before any connection", async () => {
    const before = requests;
    const url = scripted.url("/file.csv").replace("http://", "http://reader:pa55word@");
    const error = await ingest({ url, source: "Credentials" }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: "DownloadForbiddenError" });
    expect((error as Error).message).not.toContain("pa55word");
    expect((error as Error).message).not.toContain("reader");
    expect(requests).toBe(before);
    expect(await storage.keys("raw/Credentials/")).toEqual([]);
  });

  it.each([
    ["/gzip.csv", "Content-Encoding: gzip"],
    ["/deflate.csv", "Content-Encoding: deflate"],
    ["/br.csv", "Content-Encoding: br"],
    ["/file.csv.gz", "a body that is itself gzip"],
  ])("decodes %s (%s) to the same clean file as the plain download", async (path) => {
    const source = await readFile(`${SAMPLES}amostra_via_norte.csv`);
    const plain = await ingest({ url: scripted.url("/file.csv"), source: "Plain" });
    const decoded = await ingest({ url: scripted.url(path), source: "Decoded" });
    expect(decoded.bytes).toBe(source.length);
    expect(decoded.sha256).toBe(plain.sha256);
    expect(await storage.bytes(decoded.key)).toEqual(await storage.bytes(plain.key));
  });

  it("refuses an unsupported Content-Encoding, saying which, and leaves no object", async () => {
    const error = await ingest({ url: scripted.url("/zstd.csv"), source: "Zstd" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "DownloadError" });
    expect((error as Error).message).toContain('Content-Encoding "zstd", which is not supported');
    expect(await storage.keys("raw/Zstd/")).toEqual([]);
  });

  it("fails a corrupt gzip body as a DownloadError and leaves no object", async () => {
    const error = await ingest({ url: scripted.url("/corrupt.csv.gz"), source: "Corrupt" }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: "DownloadError" });
    expect((error as Error).message).toContain("cannot be decoded");
    expect(await storage.keys("raw/Corrupt/")).toEqual([]);
    expect(await storage.keys("clean/Corrupt/")).toEqual([]);
  });

  it.each([
    ["/busy.csv", "503 with Retry-After: 1", () => (busyOnce = true)],
    ["/throttled.csv", "429 with Retry-After as an HTTP date", () => (throttledOnce = true)],
  ])("waits as %s asks (%s) and then downloads", async (path, _how, arm) => {
    arm();
    const started = Date.now();
    const result = await ingest({ url: scripted.url(path), source: "Patient" });
    expect(result.rows).toBeGreaterThan(400);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it("stops waiting after a few Retry-After answers, even short ones, and fails with the retryable error", async () => {
    const before = requests;
    const error = await ingest({ url: scripted.url("/busy-forever.csv"), source: "Forever" }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ name: "DownloadUnavailableError" });
    expect((error as Error).message).toContain("it still asks to retry later after 5 waits");
    expect(requests - before).toBe(6);
  });

  it("fails at once with the retryable error when Retry-After is beyond what the step waits", async () => {
    const started = Date.now();
    const error = await ingest({ url: scripted.url("/busy-for-an-hour.csv"), source: "Busy" }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ name: "DownloadUnavailableError" });
    expect((error as Error).message).toMatch(/HTTP 503; it asks to retry after 3600 s, beyond the 30 s/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("refuses UTF-16", async () => {
    await expect(ingest({ url: scripted.url("/utf16.csv") })).rejects.toMatchObject({
      name: "EncodingError",
    });
  });

  it("works again once a flaky server recovers (what the state machine's retry relies on)", async () => {
    flakyFailures = 1;
    await expect(ingest({ url: scripted.url("/flaky.csv") })).rejects.toMatchObject({
      name: "DownloadUnavailableError",
    });
    await expect(ingest({ url: scripted.url("/flaky.csv") })).resolves.toMatchObject({ rows: 404 });
  });

  it.each([
    [{}, /invalid ingest event/],
    [{ url: "ftp://example.com/a.csv" }, /url: must be an http\(s\) URL/],
    [{ source: "../etc" }, /source: a source is letters/],
    [{ url: "http://x/a.csv", extra: 1 }, /invalid ingest event/],
  ])("rejects the event %j with InvalidEventError", async (event, message) => {
    await expect(ingest(event)).rejects.toMatchObject({
      name: "InvalidEventError",
      message: expect.stringMatching(message),
    });
  });

  it("rejects an unknown source name, listing the known ones", async () => {
    await expect(ingest({ source: "Nowhere" })).rejects.toMatchObject({
      name: "UnknownSourceError",
      // A source is a link's name, not a column.
      message: 'link.yml: no link named "Nowhere" (known: Amostra_Norte)',
    });
  });
});
