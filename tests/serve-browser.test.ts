import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import puppeteer, { type Browser } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../src/adapters/object-store.js";
import { loadDownloadConfig } from "../src/config.js";
import { LOCAL_CREDENTIALS } from "../src/local/environment.js";
import { type RunningServe, startServe } from "../src/local/serve.js";
import { findChromium, skipNote, skipWithout } from "./support/tools.js";

const BUCKET = "roadtoll-local";
const chromium = findChromium();
const noChromium = !chromium && "no chromium on PATH; .ci/run installs it with apt-get";

/**
 * The attacks a web page can make on `roadtoll serve` from a browser, with no preflight: "simple" cross-site
 * POSTs (text/plain, a form) to the API, a form upload and a multipart fetch into the embedded S3's landing/
 * (which would start a run), and, through a DNS name that resolves to loopback, reads of the API and of S3.
 */
function attackPage(api: string, s3: string): string {
  const csv = "Data;Concessionaria;Trecho;Mortos\\n01/01/2024;X;BR-101/SC;9\\n";
  return `<!doctype html><meta charset="utf-8"><title>attacker</title>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe><iframe name="sink3"></iframe>
<form id="apiText" method="POST" action="${api}/runs" enctype="text/plain" target="sink1">
  <input name='{"all": true, "x": "' value='"}'>
</form>
<form id="apiForm" method="POST" action="${api}/uploads" target="sink2">
  <input name="name" value="evil.csv"><input name="bytes" value="10">
</form>
<form id="s3Form" method="POST" action="${s3}/${BUCKET}" enctype="multipart/form-data" target="sink3">
  <input name="key" value="landing/evil/form.csv"><input name="file" type="file">
</form>
<script>
(async () => {
  const blob = new Blob(["${csv}"], { type: "text/csv" });
  const form = new FormData();
  form.append("key", "landing/evil/fetch.csv");
  form.append("file", blob, "fetch.csv");
  const sent = [
    fetch("${api}/runs", { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: '{"all": true}' }),
    fetch("${api}/runs", { method: "POST", mode: "no-cors", body: '{"links": [{"source": "x"}]}' }),
    fetch("${s3}/${BUCKET}", { method: "POST", mode: "no-cors", body: form }),
    fetch("${s3}/${BUCKET}/landing/evil/put.csv", { method: "PUT", mode: "no-cors", body: blob }),
  ];
  document.getElementById("apiText").submit();
  document.getElementById("apiForm").submit();
  const file = new DataTransfer();
  file.items.add(new File([blob], "form.csv", { type: "text/csv" }));
  document.querySelector("#s3Form input[type=file]").files = file.files;
  document.getElementById("s3Form").submit();
  await Promise.allSettled(sent);
  document.title = "sent";
})();
</script>`;
}

describe.skipIf(skipWithout(noChromium))(
  `roadtoll serve against a hostile web page in headless Chromium${skipNote(noChromium)}`,
  () => {
    let dataDir: string;
    let serve: RunningServe;
    let pages: Server;
    let browser: Browser;
    const lines: string[] = [];

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), "roadtoll-serve-browser-"));
      serve = await startServe({
        port: 0,
        bucket: BUCKET,
        dataDir,
        links: {},
        download: loadDownloadConfig({}),
        maxRejectShare: 0.05,
        uploadUrlTtlSeconds: 300,
        log: (line) => lines.push(line),
      });
      pages = createServer((_, response) => {
        response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        response.end(attackPage(serve.url, serve.s3Endpoint));
      });
      await new Promise<void>((resolve) => pages.listen(0, "127.0.0.1", resolve));
      browser = await puppeteer.launch({
        executablePath: chromium,
        // No user namespaces in a container: Chromium's sandbox cannot start there. The two names resolve to
        // loopback as an attacker's DNS would answer them: one serves the page, one is rebound to the servers.
        args: [
          "--no-sandbox",
          "--disable-dev-shm-usage",
          "--host-resolver-rules=MAP attacker.example 127.0.0.1, MAP rebound.example 127.0.0.1",
        ],
      });
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await new Promise((resolve) => pages?.close(resolve));
      await serve?.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    it("refuses every cross-site POST and form upload, and no run starts", async () => {
      const page = await browser.newPage();
      const answers: Array<{ url: string; method: string; status: number }> = [];
      page.on("response", (response) => {
        const request = response.request();
        if (request.method() !== "GET") {
          answers.push({ url: request.url(), method: request.method(), status: response.status() });
        }
      });
      const { port } = pages.address() as AddressInfo;
      await page.goto(`http://attacker.example:${port}/`);
      await page.waitForFunction('document.title === "sent"', { timeout: 30_000 });
      // The three forms navigate their frames; each answer comes back before the frame loads.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const byTarget = (url: string) => answers.filter((answer) => answer.url.startsWith(url));
      // The requests were sent and answered: by the guards, never by a route.
      const api = byTarget(serve.url);
      const s3 = byTarget(serve.s3Endpoint);
      expect(api.length, JSON.stringify(answers)).toBeGreaterThanOrEqual(3);
      expect(s3.length, JSON.stringify(answers)).toBeGreaterThanOrEqual(2);
      for (const answer of [...api, ...s3])
        expect([403, 415, 421], JSON.stringify(answer)).toContain(answer.status);
      expect(api.every((answer) => answer.status === 403)).toBe(true);

      await serve.executions.idle();
      expect(lines.filter((line) => line.startsWith("run "))).toEqual([]);
      const executions = await readdir(join(dataDir, "executions")).catch(() => []);
      expect(executions).toEqual([]);
      const s3Client = createS3Client(
        { bucket: BUCKET, region: "us-east-1", endpoint: serve.s3Endpoint, forcePathStyle: true },
        LOCAL_CREDENTIALS,
      );
      try {
        const listed = await s3Client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "landing/" }));
        expect(listed.Contents ?? []).toEqual([]);
      } finally {
        s3Client.destroy();
      }
      await page.close();
    }, 60_000);

    it("answers nothing to a page whose name was rebound to loopback (DNS rebinding)", async () => {
      const page = await browser.newPage();
      const apiPort = new URL(serve.url).port;
      const s3Port = new URL(serve.s3Endpoint).port;
      const api = await page.goto(`http://rebound.example:${apiPort}/openapi.json`);
      expect(api?.status()).toBe(421);
      expect(await page.evaluate("document.body.innerText")).toContain("MisdirectedRequest");
      expect(await page.evaluate("document.body.innerText")).not.toContain("openapi");
      const s3 = await page.goto(`http://rebound.example:${s3Port}/${BUCKET}?list-type=2`);
      expect(s3?.status()).toBe(403);
      expect(await page.evaluate("document.body.innerText")).not.toContain("ListBucketResult");
      // The same requests by the servers' own names are answered: the guard is what refused.
      expect((await page.goto(`${serve.url}/openapi.json`))?.status()).toBe(200);
      expect((await page.goto(`${serve.s3Endpoint}/${BUCKET}?list-type=2`))?.status()).toBe(200);
      await page.close();
    }, 60_000);
  },
);
