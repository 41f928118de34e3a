// CompleteMultipartUpload for s3rver's file store, as S3 does it. s3rver joins the parts by streaming them through
// a second MD5 of the whole object into a new file: on the 400 MB file, the ingest step then waited 2.7 s with
// nothing to do, after its last byte, while both objects were hashed again. S3 never hashes a multipart object
// whole: its ETag is the MD5 of the parts' MD5s and the part count. Here the parts' MD5s (hashed as they arrived)
// give that ETag, and the parts are joined by file copies. S3's checks come first, as S3 makes them, so that the
// embedded server refuses what S3 would: parts in ascending order, each ETag the stored part's, every part but
// the last at least 5 MiB.
import { createHash } from "node:crypto";
import { copyFile, mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import S3Error from "s3rver/lib/models/error.js";
import S3Object from "s3rver/lib/models/object.js";

const MIN_PART_BYTES = 5 * 1024 * 1024;
const COPY_BUFFER_BYTES = 4 * 1024 * 1024;

const missing = (error) => error?.code === "ENOENT";

/** Replaces `store.putObjectMultipart` (s3rver's FilesystemStore) with S3's completion. */
export function completeAsS3(store) {
  store.putObjectMultipart = async (bucket, uploadId, parts) => {
    const uploadDir = join(store.getResourcePath(bucket, undefined, "uploads"), uploadId);
    let key;
    let metadata;
    try {
      [key, metadata] = await Promise.all([
        readFile(join(uploadDir, "key"), "utf8"),
        readFile(join(uploadDir, "metadata"), "utf8").then(JSON.parse),
      ]);
    } catch (error) {
      if (!missing(error)) throw error;
      throw new S3Error(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        { UploadId: uploadId },
      );
    }
    const stored = await storedParts(uploadDir, parts);
    const etag = `${createHash("md5")
      .update(Buffer.concat(stored.map((part) => Buffer.from(part.md5, "hex"))))
      .digest("hex")}-${stored.length}`;
    // Joined beside the parts, then renamed into place: a reader never sees half an object.
    const assembled = join(uploadDir, "assembled");
    await copyFile(stored[0].path, assembled);
    await appendParts(assembled, stored.slice(1));
    const objectPath = store.getResourcePath(bucket, key, "object");
    await mkdir(dirname(objectPath), { recursive: true });
    await rename(assembled, objectPath);
    await store.putMetadata(bucket, key, new S3Object(bucket, key, null, metadata).metadata, etag);
    await rm(uploadDir, { recursive: true, force: true });
    return { size: stored.reduce((sum, part) => sum + part.size, 0), md5: etag };
  };
}

/** The listed parts as stored, after S3's checks on the list (s3rver has refused an empty list already). */
async function storedParts(uploadDir, parts) {
  const stored = [];
  let previous = 0;
  for (const { number, etag } of parts) {
    if (!(number > previous)) {
      throw new S3Error(
        "InvalidPartOrder",
        "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
      );
    }
    previous = number;
    const path = join(uploadDir, String(number));
    let md5;
    let size;
    try {
      [md5, { size }] = await Promise.all([readFile(`${path}.md5`, "utf8"), stat(path)]);
    } catch (error) {
      if (!missing(error)) throw error;
    }
    if (md5 === undefined || md5 !== etag) {
      throw new S3Error(
        "InvalidPart",
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        { PartNumber: number, ETag: etag },
      );
    }
    stored.push({ path, md5, size });
  }
  const small = stored.slice(0, -1).find((part) => part.size < MIN_PART_BYTES);
  if (small) {
    throw new S3Error(
      "EntityTooSmall",
      "Your proposed upload is smaller than the minimum allowed object size.",
      {
        MinSizeAllowed: MIN_PART_BYTES,
        ProposedSize: small.size,
      },
    );
  }
  return stored;
}

async function appendParts(target, parts) {
  if (parts.length === 0) return;
  const output = await open(target, "a");
  const buffer = Buffer.allocUnsafe(COPY_BUFFER_BYTES);
  try {
    for (const part of parts) {
      const input = await open(part.path, "r");
      try {
        for (;;) {
          const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
          if (bytesRead === 0) break;
          await output.write(buffer, 0, bytesRead);
        }
      } finally {
        await input.close();
      }
    }
  } finally {
    await output.close();
  }
}
