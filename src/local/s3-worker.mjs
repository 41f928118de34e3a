// Runs s3rver in a worker thread (see s3-server.ts). Plain JavaScript so that it loads the same way under tsx,
// vitest and plain node, none of which would transpile a TypeScript worker file.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import S3rver from "s3rver";
import { refusal } from "./loopback.mjs";
import { completeAsS3 } from "./s3rver-multipart.mjs";

const server = new S3rver({
  address: "127.0.0.1",
  port: 0,
  directory: workerData.directory,
  silent: true,
  configureBuckets: workerData.buckets.map((name) => ({ name })),
});
const multipart = completeAsS3(server.store);
// s3rver has no AbortMultipartUpload route: an aborted upload's parts would stay on disk (4.4 GB after one failed
// download). This answers it, ahead of s3rver's router, by removing the upload's folder where s3rver keeps it.
// A part still in flight when the abort arrives would recreate the folder, so the folder goes again after any
// part of an aborted upload, and later parts are refused.
const aborted = new Set();
const uploadFolder = (bucket, uploadId) => join(workerData.directory, bucket, "._S3rver_uploads", uploadId);
server.middleware.unshift(async (ctx, next) => {
  const uploadId = ctx.query.uploadId;
  const [bucket] = ctx.path.split("/").filter(Boolean);
  if (typeof uploadId !== "string" || !bucket || (ctx.method !== "DELETE" && ctx.method !== "PUT"))
    return next();
  if (!/^[0-9a-f]+$/.test(uploadId) || !/^[a-z0-9.-]+$/.test(bucket)) {
    ctx.status = 400;
    return;
  }
  if (ctx.method === "PUT") {
    if (aborted.has(uploadId)) {
      ctx.status = 404;
      ctx.type = "application/xml";
      ctx.body = "<Error><Code>NoSuchUpload</Code><Message>The upload was aborted.</Message></Error>";
      return;
    }
    try {
      await next();
    } finally {
      if (aborted.has(uploadId)) await rm(uploadFolder(bucket, uploadId), { recursive: true, force: true });
    }
    return;
  }
  aborted.add(uploadId);
  multipart.forget(bucket, uploadId);
  await rm(uploadFolder(bucket, uploadId), { recursive: true, force: true });
  ctx.status = 204;
});
// Ahead of everything: a page in a browser must not write here (a form POST under landing/ would start a run) nor
// read through a rebound name. The SDK never sends a form; a browser's form is the only thing that does.
let port = 0;
const FORM = /^(multipart\/form-data|application\/x-www-form-urlencoded)\b/i;
server.middleware.unshift(async (ctx, next) => {
  const refused =
    refusal((name) => ctx.get(name) || undefined, port, { anyPort: true }) ??
    (ctx.method === "POST" && FORM.test(ctx.get("content-type"))
      ? { status: 403, message: "browser form uploads are refused" }
      : undefined);
  if (!refused) return next();
  ctx.status = 403;
  ctx.type = "application/xml";
  ctx.body = `<Error><Code>AccessDenied</Code><Message>${refused.message}</Message></Error>`;
});
// Object Created events, as S3 would send them to EventBridge: `roadtoll serve` starts a run for those under landing/.
server.on("event", (event) => {
  const record = event.Records?.[0];
  if (!record?.eventName?.startsWith("ObjectCreated:")) return;
  parentPort.postMessage({ objectCreated: { bucket: record.s3.bucket.name, key: record.s3.object.key } });
});
({ port } = await server.run());
parentPort.postMessage({ port });
parentPort.on("message", async (message) => {
  if (message !== "close") return;
  await server.close();
  parentPort.close();
});
