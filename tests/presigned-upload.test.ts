import { request } from "node:http";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_CREDENTIALS } from "../src/local/environment.js";
import { startTestStorage, type TestStorage } from "./support/storage.js";

/**
 * The upload URL the deployed API function hands out (src/lambda/api.ts as the image runs it: no S3_ENDPOINT, so
 * the SDK's defaults for real S3), PUT to through the strict S3 front under the API function's role.
 */

// The emulators' key pair stands for the function's role credentials: s3rver checks the key id.
const CREDENTIALS = {
  AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
};
const FILE = Buffer.from("data;trecho;mortos\n01/01/2020;BR-116/BA;1\n", "latin1");

/** PUTs `body` to a virtual-hosted S3 URL, sent to `endpoint` with the URL's Host header, as S3 would get it. */
function putThrough(endpoint: string, url: string, body: Buffer): Promise<{ status: number; text: string }> {
  const target = new URL(url);
  const front = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const put = request(
      {
        host: front.hostname,
        port: front.port,
        method: "PUT",
        path: `${target.pathname}${target.search}`,
        headers: { host: target.host, "content-length": body.length },
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
      },
    );
    put.on("error", reject);
    put.end(body);
  });
}

describe("the deployed API's presigned upload URL", () => {
  let storage: TestStorage;
  let uploadUrl: string;
  let key: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    storage = await startTestStorage();
    // The API function's environment in template.yaml, and Lambda's credentials; no S3_ENDPOINT.
    delete process.env.S3_ENDPOINT;
    delete process.env.S3_FORCE_PATH_STYLE;
    Object.assign(process.env, CREDENTIALS, {
      AWS_REGION: "us-east-1",
      ROADTOLL_BUCKET: storage.bucket,
      STATE_MACHINE_ARN: "arn:aws:states:us-east-1:123456789012:stateMachine:roadtoll-pipeline",
      UPLOAD_URL_TTL_SECONDS: "900",
      UPLOAD_MAX_BYTES: "1073741824",
    });
    const { handler } = await import("../src/lambda/api.js");
    const result = await handler({
      version: "2.0",
      rawPath: "/uploads",
      headers: { "content-type": "application/json" },
      requestContext: { http: { method: "POST" } },
      body: JSON.stringify({ name: "VIA_X.csv", bytes: FILE.length }),
      isBase64Encoded: false,
    });
    expect(result.statusCode).toBe(201);
    ({ uploadUrl, key } = JSON.parse(result.body) as { uploadUrl: string; key: string });
  });

  afterAll(async () => {
    process.env = saved;
    await storage?.close();
  });

  it("is a real S3 URL that signs no checksum", () => {
    const url = new URL(uploadUrl);
    expect(url.host).toBe(`${storage.bucket}.s3.us-east-1.amazonaws.com`);
    const names = [...url.searchParams.keys()].map((name) => name.toLowerCase());
    expect(names).toContain("x-amz-signature");
    expect(
      names.filter((name) => name.startsWith("x-amz-checksum-") || name === "x-amz-sdk-checksum-algorithm"),
    ).toEqual([]);
    // The Content-Length is signed: S3 refuses any other size.
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("content-length;host");
  });

  it("takes a real file PUT through it, under the API function's role", async () => {
    const put = await putThrough(storage.api.front.endpoint, uploadUrl, FILE);
    expect(put).toMatchObject({ status: 200, text: "" });
    expect(await storage.bytes(key)).toEqual(FILE);
    expect(storage.api.front.refused).toEqual([]);
  });

  it("where a URL signed with the SDK's own default would be refused (the front checks what the URL signs)", async () => {
    const defaults = new S3Client({
      region: "us-east-1",
      credentials: {
        accessKeyId: CREDENTIALS.AWS_ACCESS_KEY_ID,
        secretAccessKey: CREDENTIALS.AWS_SECRET_ACCESS_KEY,
      },
    });
    const url = await getSignedUrl(
      defaults,
      new PutObjectCommand({ Bucket: storage.bucket, Key: "landing/X/default.csv" }),
    );
    defaults.destroy();
    expect(new URL(url).searchParams.get("x-amz-checksum-crc32")).toBe("AAAAAA==");
    const put = await putThrough(storage.api.front.endpoint, url, FILE);
    expect(put.status).toBe(400);
    expect(put.text).toContain("<Code>BadDigest</Code>");
    expect(await storage.keys("landing/X/")).toEqual([]);
  });
});
