import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UPLOAD_PART_BYTES } from "../src/adapters/object-store.js";
import { startTestStorage, type TestStorage, testS3Backend } from "./support/storage.js";

// The S3 server must not keep the parts of an aborted upload: a failed download used to leave gigabytes. Checked
// on whichever server the tests run against (ROADTOLL_TEST_S3): s3rver's upload folders, moto's
// ListMultipartUploads.
let storage: TestStorage;

beforeAll(async () => {
  storage = await startTestStorage("bucket");
});

afterAll(async () => {
  await storage?.close();
});

describe(`S3 (${testS3Backend()}): aborting a multipart upload`, () => {
  it("leaves no parts and no object", async () => {
    const upload = storage.store.openUpload("raw/x.csv", "text/csv");
    // Four full parts, so that parts are stored before the abort.
    const part = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < (4 * UPLOAD_PART_BYTES) / part.length; i++) {
      if (!upload.body.write(part)) await new Promise((resolve) => upload.body.once("drain", resolve));
    }
    for (let waited = 0; (await storage.pendingUploads()).length === 0 && waited < 100; waited++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await storage.pendingUploads()).toHaveLength(1);
    await upload.abort();
    expect(await storage.pendingUploads()).toEqual([]);
    expect(await storage.keys()).toEqual([]);
    await expect(storage.store.read("raw/x.csv")).rejects.toMatchObject({ name: "ObjectNotFoundError" });
  });
});
