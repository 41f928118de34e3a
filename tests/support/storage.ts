import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { createS3Client, ensureBucket, ObjectStore } from "../../src/adapters/object-store.js";
import { LOCAL_CREDENTIALS } from "../../src/local/environment.js";
import { startS3Server } from "../../src/local/s3-server.js";
import { startMotoS3 } from "./moto-s3.js";
import { type StrictS3, startStrictS3 } from "./strict-s3.js";
import { type FunctionName, functionRole, type RoleOptions } from "./template-roles.js";

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
  /** The bucket with no policy in the way: for a test's own setup and checks. */
  store: ObjectStore;
  /**
   * The bucket as one function sees it on AWS: through a strict S3 front (strict-s3.ts) that allows only what
   * the function's role in template.yaml allows, and answers a missing key as S3 answers that role.
   */
  as(name: FunctionName, options?: Omit<RoleOptions, "bucket">): Promise<RoleStorage>;
  /** The bucket as each function's role sees it (`as` with the template's policies), for its handler. */
  ingest: RoleStorage;
  deaths: RoleStorage;
  api: RoleStorage;
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

export interface RoleStorage {
  store: ObjectStore;
  s3: S3Client;
  front: StrictS3;
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
  const presigner = createS3Client(
    { bucket, region: "us-east-1", endpoint, forcePathStyle: true },
    LOCAL_CREDENTIALS,
    {
      purpose: "presign",
    },
  );
  const store = new ObjectStore(s3, bucket, { presigner });
  const roles: RoleStorage[] = [];
  const as = async (name: FunctionName, options: Omit<RoleOptions, "bucket"> = {}): Promise<RoleStorage> => {
    const front = await startStrictS3(endpoint, functionRole(name, { ...options, bucket }));
    const config = { bucket, region: "us-east-1", endpoint: front.endpoint, forcePathStyle: true };
    const roleS3 = createS3Client(config, LOCAL_CREDENTIALS);
    const role = {
      front,
      s3: roleS3,
      store: new ObjectStore(roleS3, bucket, {
        presigner: createS3Client(config, LOCAL_CREDENTIALS, { purpose: "presign" }),
      }),
    };
    roles.push(role);
    return role;
  };
  const [ingest, deaths, api] = await Promise.all([
    as("IngestFunction"),
    as("DeathsFunction"),
    as("ApiFunction"),
  ]);
  return {
    backend,
    store,
    as,
    ingest,
    deaths,
    api,
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
      for (const role of roles) {
        role.s3.destroy();
        await role.front.close();
      }
      s3.destroy();
      await stop();
    },
  };
}
