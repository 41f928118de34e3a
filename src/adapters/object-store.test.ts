import { describe, expect, it } from "vitest";
import { createS3Client } from "./object-store.js";

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
});
