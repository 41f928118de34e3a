import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client, ObjectStore } from "../src/adapters/object-store.js";
import { LOCAL_CREDENTIALS } from "../src/local/environment.js";
import { type RunningS3, startS3Server } from "../src/local/s3-server.js";

// The embedded S3 must not keep the parts of an aborted upload: a failed download used to leave gigabytes.
let directory: string;
let s3: RunningS3;
let store: ObjectStore;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "roadtoll-abort-"));
  s3 = await startS3Server(directory, ["bucket"]);
  store = new ObjectStore(
    createS3Client(
      { bucket: "bucket", region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true },
      LOCAL_CREDENTIALS,
    ),
    "bucket",
  );
});

afterAll(async () => {
  await s3?.close();
  await rm(directory, { recursive: true, force: true });
});

const uploads = () => {
  const folder = join(directory, "bucket", "._S3rver_uploads");
  return existsSync(folder) ? readdirSync(folder) : [];
};

describe("embedded S3: aborting a multipart upload", () => {
  it("leaves no parts on disk and no object", async () => {
    const upload = store.openUpload("raw/x.csv", "text/csv");
    // Two full 8 MiB parts, so that parts are on disk before the abort.
    const part = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 20; i++) {
      if (!upload.body.write(part)) await new Promise((resolve) => upload.body.once("drain", resolve));
    }
    for (let waited = 0; uploads().length === 0 && waited < 100; waited++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(uploads()).toHaveLength(1);
    await upload.abort();
    expect(uploads()).toEqual([]);
    await expect(store.read("raw/x.csv")).rejects.toMatchObject({ name: "ObjectNotFoundError" });
  });
});
