import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Kysely } from "kysely";
import { createS3Client, ensureBucket, ObjectStore } from "../adapters/object-store.js";
import type { Database } from "../db/schema.js";
import { lockDataDir } from "./data-dir-lock.js";
import { openLocalDatabase } from "./open-database.js";
import { type CreatedObject, startS3Server } from "./s3-server.js";

/** s3rver's documented default key pair. */
export const LOCAL_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

export interface LocalEnvironmentOptions {
  bucket: string;
  /** Folder for s3rver's objects and PGlite's files (unless the endpoint or database URL is given). */
  dataDir: string;
  /** Use this S3-compatible server instead of starting s3rver. */
  s3Endpoint?: string;
  /**
   * Keys for `s3Endpoint`. Without them the SDK's default chain finds some (AWS_ACCESS_KEY_ID and
   * AWS_SECRET_ACCESS_KEY in process.env, AWS_PROFILE, ~/.aws, …). Ignored for the embedded s3rver.
   */
  s3Credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** The client's region (default: $AWS_REGION, else us-east-1): a bucket it creates is put there. */
  region?: string;
  /** Use this Postgres instead of PGlite. */
  databaseUrl?: string;
  log?: (line: string) => void;
  /** Told of every object the embedded s3rver stores (not called with --s3-endpoint, which has no events). */
  onObjectCreated?: (object: CreatedObject) => void;
}

export interface LocalEnvironment {
  store: ObjectStore;
  db: Kysely<Database>;
  s3Endpoint: string;
  /** "PGlite (<dir>)" or the server's host, for messages; never a password. */
  databaseLabel: string;
  close(): Promise<void>;
}

/**
 * Everything the pipeline needs, on a laptop: an S3-compatible server and Postgres (embedded unless told
 * otherwise), migrated. Both handlers are then built on these with the same code the Lambdas run.
 */
export async function startLocalEnvironment(options: LocalEnvironmentOptions): Promise<LocalEnvironment> {
  const log = options.log ?? (() => {});
  const closers: Array<() => Promise<unknown>> = [];
  try {
    if (!options.s3Endpoint || !options.databaseUrl) {
      // s3rver and PGlite keep their files in the data directory: one run at a time.
      await mkdir(options.dataDir, { recursive: true });
      const lock = lockDataDir(options.dataDir);
      closers.push(async () => lock.release());
    }
    // S3 and the database start side by side: s3rver loads in its worker thread (0.4 s) while PGlite opens on
    // this one. Each keeps its own closers until both are up, so a failure of either closes what the other opened.
    const s3Closers: Array<() => Promise<unknown>> = [];
    const databaseClosers: Array<() => Promise<unknown>> = [];
    const [s3, database] = await Promise.allSettled([
      startS3(options, log, s3Closers),
      openLocalDatabase({
        use: "run",
        dataDir: options.dataDir,
        databaseUrl: options.databaseUrl,
        log,
      }).then((opened) => {
        databaseClosers.push(opened.close);
        return opened;
      }),
    ]);
    closers.push(...s3Closers, ...databaseClosers);
    if (s3.status === "rejected") throw s3.reason;
    if (database.status === "rejected") throw database.reason;
    const { s3Client, s3Endpoint, storageConfig, credentials } = s3.value;

    return {
      store: new ObjectStore(s3Client, options.bucket, {
        presigner: createS3Client(storageConfig, credentials, { purpose: "presign" }),
      }),
      db: database.value.db,
      s3Endpoint,
      databaseLabel: database.value.label,
      close: () => closeAll(closers),
    };
  } catch (error) {
    await closeAll(closers);
    throw error;
  }
}

/** The S3 the run uses: s3rver in the data directory unless an endpoint is given; its bucket made if missing. */
async function startS3(
  options: LocalEnvironmentOptions,
  log: (line: string) => void,
  closers: Array<() => Promise<unknown>>,
) {
  let s3Endpoint = options.s3Endpoint;
  if (!s3Endpoint) {
    const directory = join(options.dataDir, "s3");
    await mkdir(directory, { recursive: true });
    // Held by this process now: parts of uploads still there were left by a run that was killed.
    const left = await removeUnfinishedUploads(directory);
    if (left > 0) log(`s3: removed ${left} unfinished upload(s) left by an interrupted run`);
    // Last to run on close: once s3rver has stopped, nothing of an upload it was receiving stays behind.
    closers.push(() => removeUnfinishedUploads(directory));
    const s3 = await startS3Server(
      directory,
      [options.bucket],
      options.onObjectCreated ? { onObjectCreated: options.onObjectCreated } : {},
    );
    closers.push(s3.close);
    s3Endpoint = s3.endpoint;
    log(`s3: s3rver at ${s3Endpoint} (objects in ${directory})`);
  } else {
    log(`s3: ${s3Endpoint}`);
  }
  const storageConfig = {
    bucket: options.bucket,
    region: options.region ?? process.env.AWS_REGION ?? "us-east-1",
    endpoint: s3Endpoint,
    forcePathStyle: true,
  };
  // s3rver accepts any signature; a given endpoint may need real keys: the caller's, or the SDK's chain.
  const credentials = options.s3Endpoint ? options.s3Credentials : LOCAL_CREDENTIALS;
  const s3Client = createS3Client(storageConfig, credentials);
  closers.push(async () => s3Client.destroy());
  // s3rver was started with the bucket; another server gets it created when missing.
  const bucket = await ensureBucket(s3Client, options.bucket);
  if (options.s3Endpoint) log(`s3: bucket ${options.bucket} ${bucket === "created" ? "created" : "found"}`);
  return { s3Client, s3Endpoint, storageConfig, credentials };
}

async function closeAll(closers: Array<() => Promise<unknown>>): Promise<void> {
  for (const close of closers.reverse()) await close().catch(() => {});
}

/**
 * Removes the parts s3rver keeps for multipart uploads that were neither completed nor aborted (in
 * `<bucket>/._S3rver_uploads/<upload id>/`), in every bucket of `directory`; gives how many uploads there were.
 * Only for a directory this process holds (lockDataDir) and whose s3rver is not running.
 */
export async function removeUnfinishedUploads(directory: string): Promise<number> {
  let removed = 0;
  const buckets = await readdir(directory, { withFileTypes: true }).catch(() => []);
  for (const bucket of buckets) {
    if (!bucket.isDirectory()) continue;
    const uploads = join(directory, bucket.name, "._S3rver_uploads");
    removed += (await readdir(uploads).catch(() => [])).length;
    await rm(uploads, { recursive: true, force: true });
  }
  return removed;
}
