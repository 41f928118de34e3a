// The minimal S3 of minimal-s3.ts, in its worker thread. Plain JavaScript so that it loads as it is under tsx.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { parentPort, workerData } from "node:worker_threads";

/** @type {string | undefined} */
const store = workerData.store;
let uploads = 0;
/** Files written per upload, then per object once it completes; an object's go when it is deleted, as s3rver's do. */
const written = new Map();
const objects = new Map();

const xml = (response, body) => {
  response.writeHead(200, { "content-type": "application/xml" });
  response.end(body);
};

/** The body hashed as S3 hashes it for the ETag (MD5) and written once to a file, or thrown away. */
async function take(request, pathname, uploadId) {
  if (store === undefined) {
    request.resume();
    await new Promise((resolve, reject) => request.on("end", resolve).on("error", reject));
    return "discarded";
  }
  const md5 = createHash("md5");
  const path = join(store, `${uploadId ?? "object"}-${++uploads}`);
  if (uploadId) written.set(uploadId, [...(written.get(uploadId) ?? []), path]);
  else objects.set(pathname, [path]);
  request.on("data", (chunk) => md5.update(chunk));
  await pipeline(request, createWriteStream(path));
  return md5.digest("hex");
}

const server = createServer(async (request, response) => {
  const url = new URL(request.url ?? "/", "http://localhost");
  const uploadId = url.searchParams.get("uploadId") ?? undefined;
  try {
    if (request.method === "PUT") {
      const etag = await take(request, url.pathname, uploadId);
      response.writeHead(200, { etag: `"${etag}"` }).end();
      return;
    }
    request.resume();
    if (request.method === "POST" && url.searchParams.has("uploads")) {
      xml(
        response,
        `<InitiateMultipartUploadResult><UploadId>u${++uploads}</UploadId></InitiateMultipartUploadResult>`,
      );
    } else if (request.method === "POST" && uploadId) {
      objects.set(url.pathname, written.get(uploadId) ?? []);
      written.delete(uploadId);
      xml(response, `<CompleteMultipartUploadResult><ETag>"done"</ETag></CompleteMultipartUploadResult>`);
    } else if (request.method === "DELETE") {
      await Promise.all((objects.get(url.pathname) ?? []).map((path) => rm(path, { force: true })));
      objects.delete(url.pathname);
      response.writeHead(204).end();
    } else {
      response.writeHead(404).end();
    }
  } catch (error) {
    response.writeHead(500).end(String(error));
  }
});
server.listen(0, "127.0.0.1", () => parentPort?.postMessage({ port: server.address().port }));
parentPort?.on("message", (message) => {
  if (message === "close") server.close(() => parentPort?.close());
});
