/**
 * Puts a clean object where events/deaths.json says the ingest step left one, so that
 * `sam local invoke DeathsFunction -e events/deaths.json` works on a fresh local S3 (S3Mock from docker compose,
 * moto_server, any S3-compatible server). The object is the bundled sample cleaned by the ingest step's own code.
 *
 *   npm run events:seed                                   # S3_ENDPOINT from .env, else http://127.0.0.1:9090
 *   S3_ENDPOINT=http://127.0.0.1:5000 npm run events:seed
 */
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { BucketAlreadyOwnedByYou, CreateBucketCommand } from "@aws-sdk/client-s3";
import { createS3Client, ObjectStore } from "../src/adapters/object-store.js";
import { cleanCsv } from "../src/domain/clean-csv.js";

const ROOT = resolve(fileURLToPath(import.meta.url), "../..");
export const SAMPLE = "samples/amostra_via_norte.csv";

/** Cleans the sample into the object events/deaths.json names; returns its bucket and key. */
export async function seedDeathsEvent(
  store: ObjectStore,
  root = ROOT,
): Promise<{ bucket: string; key: string }> {
  const event = JSON.parse(await readFile(join(root, "events/deaths.json"), "utf8")) as {
    bucket: string;
    key: string;
  };
  if (event.bucket !== store.bucket) {
    throw new Error(`events/deaths.json names bucket ${event.bucket}, but the store is ${store.bucket}`);
  }
  const upload = store.openUpload(event.key, "text/csv; charset=utf-8", { source: "Via_Costeira" });
  try {
    await Promise.all([
      cleanCsv({ input: createReadStream(join(root, SAMPLE)), file: SAMPLE, output: upload.body }),
      upload.done,
    ]);
  } catch (error) {
    await upload.abort();
    throw error;
  }
  return event;
}

async function main(): Promise<void> {
  const event = JSON.parse(await readFile(join(ROOT, "events/deaths.json"), "utf8")) as { bucket: string };
  const endpoint = process.env.S3_ENDPOINT || "http://127.0.0.1:9090";
  const bucket = process.env.ROADTOLL_BUCKET || event.bucket;
  const s3 = createS3Client({
    bucket,
    region: process.env.AWS_REGION ?? "us-east-1",
    endpoint,
    forcePathStyle: true,
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((error: unknown) => {
      if (!(error instanceof BucketAlreadyOwnedByYou) && (error as Error).name !== "BucketAlreadyExists")
        throw error;
    });
    const { key } = await seedDeathsEvent(new ObjectStore(s3, bucket));
    console.log(`s3://${bucket}/${key} at ${endpoint}: ${SAMPLE}, cleaned`);
  } finally {
    s3.destroy();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
