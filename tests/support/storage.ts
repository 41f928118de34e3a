import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { createS3Client, ensureBucket, ObjectStore } from "../../src/adapters/object-store.js";
import { LOCAL_CREDENTIALS } from "../../src/local/environment.js";
import { startS3Server } from "../../src/local/s3-server.js";
import { startMotoS3 } from "./moto-s3.js";

/** Which S3-compatible server the tests run against: `ROADTOLL_TEST_S3=moto` for moto_server, else s3rver. */
export type S3Backend = "s3rver" | "moto";

export function testS3Backend(): S3Backend {
  const chosen = (process.env.ROADTOLL_TEST_S3 ?? "").trim().toLowerCase();
  if (chosen === "" || chosen === "s3rver") return "s3rver";
  if (chosen === "moto") return "moto";
  throw new Error(`ROADTOLL_TEST_S3 must be "s3rver" (the default) or "moto", got ${JSON.stringify(chosen)}`);
}

export interface TestStorage {
  /** The server the bucket lives on, for test names and backend-specific checks. */
  backend: S3Backend;
  store: ObjectStore;
  s3: S3Client;
  endpoint: string;
  bucket: string;
  /** Every key in the bucket, sorted. */
  keys(prefix?: string): Promise<string[]>;
  /** An object's bytes. */
  bytes(key: string): Promise<Buffer>;
  /**
   * Multipart uploads the server still holds parts for (neither completed nor aborted): on moto, S3's own
   * ListMultipartUploads (one entry per upload, its key); s3rver does not implement that call (NotImplemented),
   * so there, the folders in which it keeps each upload's parts (one per upload, its id).
   */
  pendingUploads(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A real S3-compatible server on an ephemeral loopback port, with one empty bucket: s3rver in a worker thread,
 * or, with ROADTOLL_TEST_S3=moto, a moto_server child process (which must be installed).
 */
export async function startTestStorage(bucket = "roadtoll-test"): Promise<TestStorage> {
  const backend = testS3Backend();
  let endpoint: string;
  let stop: () => Promise<void>;
  let folderUploads: (() => Promise<string[]>) | undefined;
  if (backend === "moto") {
    const moto = await startMotoS3();
    endpoint = moto.endpoint;
    stop = moto.close;
  } else {
    const directory = await mkdtemp(join(tmpdir(), "roadtoll-s3-"));
    const server = await startS3Server(directory, [bucket]);
    endpoint = server.endpoint;
    stop = async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    };
    folderUploads = async () => {
      const folder = join(directory, bucket, "._S3rver_uploads");
      return existsSync(folder) ? readdir(folder) : [];
    };
  }
  // moto accepts any key pair, s3rver its own: the same pair serves both.
  const s3 = createS3Client(
    { bucket, region: "us-east-1", endpoint, forcePathStyle: true },
    LOCAL_CREDENTIALS,
  );
  try {
    // moto starts empty; s3rver was started with the bucket.
    if (backend === "moto") await ensureBucket(s3, bucket);
  } catch (error) {
    s3.destroy();
    await stop();
    throw error;
  }
  const store = new ObjectStore(s3, bucket);
  return {
    backend,
    store,
    s3,
    endpoint,
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
    pendingUploads: async () => {
      if (folderUploads) return folderUploads();
      const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      return (listed.Uploads ?? []).map((upload) => upload.Key ?? "").sort();
    },
    close: async () => {
      s3.destroy();
      await stop();
    },
  };
}
