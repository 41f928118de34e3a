import { Readable } from "node:stream";
import { type S3Client, UploadPartCommand } from "@aws-sdk/client-s3";
import { ConfiguredRetryStrategy, StandardRetryStrategy } from "@smithy/core/retry";
import { describe, expect, it } from "vitest";
import { quickRetry } from "../../tests/support/retry.js";
import { answerInProcess } from "../../tests/support/sent-requests.js";
import { createS3Client, ensureBucket, ObjectStore } from "./object-store.js";

describe("createS3Client", () => {
  it("keeps the SDK's default checksums against real S3", async () => {
    const s3 = createS3Client({
      bucket: "b",
      region: "us-east-1",
      endpoint: undefined,
      forcePathStyle: false,
    });
    expect(await s3.config.requestChecksumCalculation()).toBe("WHEN_SUPPORTED");
    expect(await s3.config.responseChecksumValidation()).toBe("WHEN_SUPPORTED");
  });

  it("sends checksums only where required against an S3-compatible endpoint", async () => {
    const s3 = createS3Client({
      bucket: "b",
      region: "us-east-1",
      endpoint: "http://127.0.0.1:9",
      forcePathStyle: true,
    });
    expect(await s3.config.requestChecksumCalculation()).toBe("WHEN_REQUIRED");
    expect(await s3.config.responseChecksumValidation()).toBe("WHEN_REQUIRED");
    expect(s3.config.forcePathStyle).toBe(true);
  });

  it("sends a large body at once on loopback, and after S3's 100 Continue anywhere else", async () => {
    const part = Buffer.alloc(3 * 1024 * 1024, "a");
    const expectOf = async (endpoint: string | undefined) => {
      const s3 = createS3Client(
        { bucket: "b", region: "us-east-1", endpoint, forcePathStyle: endpoint !== undefined },
        { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
      );
      const sent = answerInProcess(s3);
      await s3.send(
        new UploadPartCommand({ Bucket: "b", Key: "k", UploadId: "u", PartNumber: 1, Body: part }),
      );
      expect(sent, endpoint).toHaveLength(1);
      return sent[0]?.headers.expect;
    };
    expect(await expectOf(undefined)).toBe("100-continue");
    expect(await expectOf("http://192.0.2.10:9000")).toBe("100-continue");
    for (const endpoint of ["http://127.0.0.1:4569", "http://localhost:4569", "http://[::1]:4569"]) {
      expect(await expectOf(endpoint), endpoint).toBeUndefined();
    }
  });

  it("retries with the SDK's standard mode, 5 attempts unless told otherwise", async () => {
    const config = { bucket: "b", region: "us-east-1", endpoint: undefined, forcePathStyle: false };
    const s3 = createS3Client(config);
    const { retryMode } = s3.config;
    expect(typeof retryMode === "function" ? await retryMode() : retryMode).toBe("standard");
    expect(await s3.config.maxAttempts()).toBe(5);
    const strategy = await s3.config.retryStrategy();
    expect(strategy).toBeInstanceOf(StandardRetryStrategy);
    expect(strategy).not.toBeInstanceOf(ConfiguredRetryStrategy);
    expect((strategy as StandardRetryStrategy).mode).toBe("standard");
    expect(await createS3Client({ ...config, maxAttempts: 2 }).config.maxAttempts()).toBe(2);
  });

  it("takes a test's retry strategy (the standard one with a short delay) in place of the default", async () => {
    const s3 = createS3Client(
      { bucket: "b", region: "us-east-1", endpoint: undefined, forcePathStyle: false, maxAttempts: 4 },
      undefined,
      { retryStrategy: quickRetry(4) },
    );
    const strategy = await s3.config.retryStrategy();
    expect(strategy).toBeInstanceOf(ConfiguredRetryStrategy);
    expect(await (strategy as ConfiguredRetryStrategy).maxAttempts()).toBe(4);
  });
});

describe("ObjectStore.read", () => {
  /** A store whose GetObject answers with this body and Content-Length. */
  const storeAnswering = (body: Readable, contentLength: number | undefined) =>
    new ObjectStore(
      { send: async () => ({ Body: body, ContentLength: contentLength }) } as unknown as S3Client,
      "b",
    );

  const readAll = async (stream: Readable) => {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };

  it("passes the body through, byte for byte", async () => {
    const parts = [Buffer.from("a,b\n"), Buffer.from("1,2\n")];
    expect((await readAll(await storeAnswering(Readable.from(parts), 8).read("k"))).toString()).toBe(
      "a,b\n1,2\n",
    );
  });

  it("fails a body that ends cleanly but short of its Content-Length", async () => {
    await expect(
      readAll(await storeAnswering(Readable.from([Buffer.from("a,b\n")]), 10).read("k")),
    ).rejects.toMatchObject({
      name: "StorageError",
      message:
        "k: cannot read s3://b/k: the body broke off after 4 of 10 bytes (Error: the body ended early)",
    });
  });

  it("fails with StorageError when the body errors", async () => {
    const body = new Readable({ read() {} });
    const stream = await storeAnswering(body, 10).read("k");
    body.push(Buffer.from("abc"));
    body.destroy(Object.assign(new Error("aborted"), { code: "ECONNRESET" }));
    await expect(readAll(stream)).rejects.toMatchObject({
      name: "StorageError",
      message: "k: cannot read s3://b/k: the body broke off after 3 of 10 bytes (Error: aborted)",
      cause: { code: "ECONNRESET" },
    });
  });

  it("releases the body when the reader stops early", async () => {
    const body = new Readable({ read() {} });
    const stream = await storeAnswering(body, 10).read("k");
    stream.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(body.destroyed).toBe(true);
  });
});

describe("ensureBucket", () => {
  /** A client whose every request fails with this, in the shape the SDK gives. */
  const failing = (name: string, status?: number, message = name) =>
    ({
      send: async () => {
        throw Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
      },
      config: { region: async () => "us-east-1" },
    }) as unknown as S3Client;

  it("names the variables when the SDK finds no credentials", async () => {
    await expect(
      ensureBucket(failing("CredentialsProviderError", undefined, "Could not load credentials"), "b"),
    ).rejects.toMatchObject({
      name: "ConfigError",
      message: expect.stringMatching(
        /^no AWS credentials for s3:\/\/b: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY .*\(Could not load credentials\)$/,
      ),
    });
  });

  it("says access is denied on a 403, rather than trying to create the bucket", async () => {
    await expect(ensureBucket(failing("Forbidden", 403), "b")).rejects.toMatchObject({
      name: "StorageError",
      message: expect.stringContaining("b: cannot use bucket s3://b: access denied"),
    });
  });

  it("creates a missing bucket in the client's region, with the LocationConstraint S3 needs outside us-east-1", async () => {
    const sent: Array<{ name: string; input: unknown }> = [];
    const client = (region: string) =>
      ({
        send: async (command: { constructor: { name: string }; input: unknown }) => {
          sent.push({ name: command.constructor.name, input: command.input });
          if (command.constructor.name === "HeadBucketCommand") {
            throw Object.assign(new Error("UnknownError"), {
              name: "NotFound",
              $metadata: { httpStatusCode: 404 },
            });
          }
          return {};
        },
        config: { region: async () => region },
      }) as unknown as S3Client;
    expect(await ensureBucket(client("us-east-1"), "b")).toBe("created");
    expect(await ensureBucket(client("eu-west-1"), "b")).toBe("created");
    expect(sent).toEqual([
      { name: "HeadBucketCommand", input: { Bucket: "b" } },
      { name: "CreateBucketCommand", input: { Bucket: "b" } },
      { name: "HeadBucketCommand", input: { Bucket: "b" } },
      {
        name: "CreateBucketCommand",
        input: { Bucket: "b", CreateBucketConfiguration: { LocationConstraint: "eu-west-1" } },
      },
    ]);
  });
});
