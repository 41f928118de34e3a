import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { createS3Client, ObjectStore } from "../../src/adapters/object-store.js";
import { LOCAL_CREDENTIALS } from "../../src/local/environment.js";
import { startS3Server } from "../../src/local/s3-server.js";

export interface TestStorage {
  store: ObjectStore;
  s3: S3Client;
  endpoint: string;
  bucket: string;
  /** Every key in the bucket, sorted. */
  keys(prefix?: string): Promise<string[]>;
  /** An object's bytes. */
  bytes(key: string): Promise<Buffer>;
  close(): Promise<void>;
}

/** A real S3-compatible server (s3rver) on an ephemeral port, with one empty bucket. */
export async function startTestStorage(bucket = "roadtoll-test"): Promise<TestStorage> {
  const directory = await mkdtemp(join(tmpdir(), "roadtoll-s3-"));
  const server = await startS3Server(directory, [bucket]);
  const s3 = createS3Client(
    { bucket, region: "us-east-1", endpoint: server.endpoint, forcePathStyle: true },
    LOCAL_CREDENTIALS,
  );
  const store = new ObjectStore(s3, bucket);
  return {
    store,
    s3,
    endpoint: server.endpoint,
    bucket,
    keys: async (prefix) => {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (listed.Contents ?? []).map((object) => object.Key ?? "").sort();
    },
    bytes: async (key) => {
      const chunks: Buffer[] = [];
      for await (const chunk of await store.read(key)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    close: async () => {
      s3.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
