/**
 * The two Lambda steps, for bench/child.ts: built as src/lambda/*.ts builds them (createS3Client + ObjectStore,
 * createDownloader, createDatabase), pointed at the parent's s3rver, file server and database. Kept apart from
 * child.ts so that only these children load the AWS SDK.
 */
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { sql } from "kysely";
import { createDownloader } from "../src/adapters/http-download.js";
import { createS3Client, ObjectStore } from "../src/adapters/object-store.js";
import { loadDownloadConfig } from "../src/config.js";
import { createDatabase } from "../src/db/database.js";
import { createDeathsHandler } from "../src/handlers/deaths-handler.js";
import { createIngestHandler } from "../src/handlers/ingest-handler.js";
import { LOCAL_CREDENTIALS } from "../src/local/environment.js";
import { type ChildTask, type Timed, timed } from "./protocol.js";

function s3For(endpoint: string, bucket: string) {
  // As the Lambdas build it (src/lambda/*.ts), with s3rver's key pair.
  const s3 = createS3Client(
    { bucket, region: "us-east-1", endpoint, forcePathStyle: true },
    LOCAL_CREDENTIALS,
  );
  return { s3, store: new ObjectStore(s3, bucket) };
}

/** The ingest Lambda's handler: HTTP download → transcode + sha256 → raw and clean multipart uploads. */
export async function ingest(task: Extract<ChildTask, { kind: "ingest" }>): Promise<Timed> {
  const { s3, store } = s3For(task.s3Endpoint, task.bucket);
  const handler = createIngestHandler({
    store,
    download: createDownloader({ ...loadDownloadConfig({}), addressPolicy: "loopback" }),
    links: {},
  });
  try {
    const result = await timed(async () => {
      const out = await handler({ url: task.url, source: task.source });
      return {
        check: { rowsRead: out.rows },
        ingest: {
          bucket: out.bucket,
          key: out.key,
          rawKey: out.rawKey,
          source: out.source,
          runId: out.runId,
          ingestedAt: out.ingestedAt,
          bytes: out.bytes,
          cleanBytes: out.cleanBytes,
          rows: out.rows,
        },
      };
    });
    if (!task.keep && result.ingest) {
      // Not timed: keeps the embedded S3's folder from growing by two copies of the file per repetition.
      for (const key of [result.ingest.key, result.ingest.rawKey]) {
        await s3.send(new DeleteObjectCommand({ Bucket: task.bucket, Key: key }));
      }
    }
    return result;
  } finally {
    s3.destroy();
  }
}

/** The deaths Lambda's handler: S3 read → aggregate (+ rejects upload) → Postgres snapshot. */
export async function deaths(task: Extract<ChildTask, { kind: "deaths" }>): Promise<Timed> {
  const { s3, store } = s3For(task.s3Endpoint, task.bucket);
  const db = await createDatabase({ kind: "url", url: task.databaseUrl });
  try {
    // A warm Lambda already holds its connection; opening it is not the step's work.
    await sql`select 1`.execute(db);
    const handler = createDeathsHandler({ store, db });
    return await timed(async () => {
      const summary = await handler(task.event);
      return {
        check: {
          rowsRead: summary.rowsRead,
          rowsRejected: summary.rowsRejected,
          roads: summary.roads,
          totalDeaths: summary.totalDeaths,
          deathsByVehicle: { ...summary.deathsByVehicle },
        },
      };
    });
  } finally {
    await db.destroy();
    s3.destroy();
  }
}
