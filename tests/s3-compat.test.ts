import { Readable } from "node:stream";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client, ensureBucket, ObjectStore } from "../src/adapters/object-store.js";
import { LOCAL_CREDENTIALS } from "../src/local/environment.js";
import { startTestStorage, type TestStorage, testS3Backend } from "./support/storage.js";

// What the adapter relies on an S3-compatible server for, where s3rver and moto_server were found to differ or
// could: checked on whichever one the tests run against (ROADTOLL_TEST_S3).
let storage: TestStorage;

beforeAll(async () => {
  storage = await startTestStorage("compat");
});

afterAll(async () => {
  await storage?.close();
});

const readAll = async (store: ObjectStore, key: string) => {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.read(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

describe(`S3-compatible server (${testS3Backend()}): what the adapter relies on`, () => {
  it("ensureBucket finds a bucket that exists and creates one that does not, once", async () => {
    // s3rver answers CreateBucket on an existing bucket with BucketAlreadyExists, moto with 200: neither is asked.
    expect(await ensureBucket(storage.s3, storage.bucket)).toBe("found");
    expect(await ensureBucket(storage.s3, "compat-new")).toBe("created");
    expect(await ensureBucket(storage.s3, "compat-new")).toBe("found");
  });

  it("ensureBucket from a client outside us-east-1 creates a bucket that takes objects", async () => {
    const s3 = createS3Client(
      { bucket: "compat-eu", region: "eu-west-1", endpoint: storage.endpoint, forcePathStyle: true },
      LOCAL_CREDENTIALS,
    );
    try {
      expect(await ensureBucket(s3, "compat-eu")).toBe("created");
      const store = new ObjectStore(s3, "compat-eu");
      const upload = store.openUpload("k.csv", "text/csv");
      upload.body.end("a\n");
      await upload.done;
      expect((await readAll(store, "k.csv")).toString()).toBe("a\n");
    } finally {
      s3.destroy();
    }
  });

  it("a streamed body is stored byte for byte (no aws-chunked framing or checksum trailer in the object)", async () => {
    const body = Buffer.from("line,one\nline,two\n");
    await storage.s3.send(
      new PutObjectCommand({
        Bucket: storage.bucket,
        Key: "streamed.csv",
        Body: Readable.from([body.subarray(0, 5), body.subarray(5)]),
        ContentLength: body.length,
      }),
    );
    expect((await storage.bytes("streamed.csv")).equals(body)).toBe(true);
  });

  it("a multipart upload keeps its content type and metadata, and reads back whole", async () => {
    const data = Buffer.alloc(9 * 1024 * 1024 + 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const upload = storage.store.openUpload("multi.csv", "text/csv; charset=utf-8", {
      source: "Multi",
      "source-url": "https://example.org/x.csv?token=***",
    });
    upload.body.end(data);
    await upload.done;
    const head = await storage.s3.send(new HeadObjectCommand({ Bucket: storage.bucket, Key: "multi.csv" }));
    expect(head.ContentType).toBe("text/csv; charset=utf-8");
    expect(head.ContentLength).toBe(data.length);
    expect(head.Metadata).toEqual({ source: "Multi", "source-url": "https://example.org/x.csv?token=***" });
    expect((await storage.bytes("multi.csv")).equals(data)).toBe(true);
  });

  it("an empty object reads back empty, and a missing one is ObjectNotFoundError", async () => {
    const upload = storage.store.openUpload("empty.csv", "text/csv");
    upload.body.end();
    await upload.done;
    expect(await storage.bytes("empty.csv")).toEqual(Buffer.alloc(0));
    await expect(storage.store.read("missing.csv")).rejects.toMatchObject({
      name: "ObjectNotFoundError",
      message: "missing.csv: s3://compat/missing.csv does not exist",
    });
  });

  it("aborting an upload that never started, or twice, is quiet", async () => {
    const upload = storage.store.openUpload("never.csv", "text/csv");
    await upload.abort();
    await upload.abort();
    expect(await storage.keys("never")).toEqual([]);
    expect(await storage.pendingUploads()).toEqual([]);
  });
});
