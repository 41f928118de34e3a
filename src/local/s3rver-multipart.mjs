// Multipart uploads for s3rver's file store, as S3 does them. s3rver stores each part in a file, then on completion
// streams them all through a second MD5 of the whole object into a new file: on the 400 MB file, the ingest step
// waited 2.7 s with nothing to do after its last byte, while both objects were hashed and written again. S3 never
// hashes a multipart object whole: its ETag is the MD5 of the parts' MD5s and the part count. Here the parts'
// MD5s (hashed as they arrived) give that ETag. S3's checks come first, as S3 makes them, so that the embedded
// server refuses what S3 would: parts in ascending order, each ETag the stored part's, every part but the last at
// least 5 MiB.
//
// The object is built while the upload goes on. A part that arrives in order (its number follows the parts
// already joined, and nothing else is being written to the join) is written straight into the upload's `joined`
// file; another is kept in its own file and appended there as soon as every part before it is. A completion that
// lists exactly the joined parts (what every client sends) is then a rename, and each byte was written once:
// joining both objects of the 400 MB file after their last part had kept the ingest step waiting 1.2 s more, and
// writing every byte twice had kept s3rver's thread, which bounds the step, busy. Any other list (a subset, a gap,
// a part sent again after it was joined) is joined afresh from wherever its parts are.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, truncate, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import S3Error from "s3rver/lib/models/error.js";
import S3Object from "s3rver/lib/models/object.js";

const MIN_PART_BYTES = 5 * 1024 * 1024;
const COPY_BUFFER_BYTES = 1024 * 1024;
const JOINED = "joined";

const missing = (error) => error?.code === "ENOENT";

/**
 * Replaces `store.putPart` and `store.putObjectMultipart` (s3rver's FilesystemStore). Returns
 * `forget(bucket, uploadId)`, for an upload aborted outside the store.
 */
export function completeAsS3(store) {
  /** Per upload folder: what the joined file holds, and what is being written. */
  const uploads = new Map();
  const uploadDirOf = (bucket, uploadId) =>
    join(store.getResourcePath(bucket, undefined, "uploads"), uploadId);
  const stateOf = (uploadDir) => {
    let state = uploads.get(uploadDir);
    if (!state) {
      state = {
        uploadDir,
        /** The parts in the joined file, in order: { number, md5, size }. */
        joined: [],
        bytes: 0,
        /** Part numbers being received. */
        writing: new Set(),
        /** A part is being written into the joined file (received, or appended from its own file). */
        busy: false,
        appending: 0,
        /** The joined file no longer matches the parts (a part sent again once joined): never used as it is. */
        spoiled: false,
        again: false,
        running: Promise.resolve(),
      };
      uploads.set(uploadDir, state);
    }
    return state;
  };

  store.putPart = async (bucket, uploadId, partNumber, content) => {
    const number = Number(partNumber);
    const uploadDir = uploadDirOf(bucket, uploadId);
    const path = join(uploadDir, String(number));
    const state = stateOf(uploadDir);
    // Checked and noted in one synchronous step, as the joiner checks and notes what it appends: a part sent
    // again once joined, or while being appended, spoils the joined file; a part being received is not appended.
    if (number <= state.joined.length || number === state.appending) state.spoiled = true;
    const direct = !state.busy && !state.spoiled && number === state.joined.length + 1;
    state.writing.add(number);
    if (direct) state.busy = true;
    const offset = state.bytes;
    try {
      await mkdir(uploadDir, { recursive: true });
      const md5 = createHash("md5");
      let size = 0;
      // Unlike s3rver's, answered only once the part is on disk: a completion may read it at once.
      await pipeline(
        content,
        new Transform({
          transform(chunk, _encoding, callback) {
            md5.update(chunk);
            size += chunk.length;
            callback(null, chunk);
          },
        }),
        direct ? createWriteStream(join(uploadDir, JOINED), { flags: "a" }) : createWriteStream(path),
      );
      const digest = md5.digest("hex");
      if (direct) {
        // The part's bytes live in the joined file: an older copy in its own file is gone, its place noted.
        await rm(path, { force: true });
        await writeFile(`${path}.at`, `${offset} ${size}`);
        state.joined.push({ number, md5: digest, size });
        state.bytes += size;
      } else {
        await rm(`${path}.at`, { force: true });
      }
      await writeFile(`${path}.md5`, digest);
      return { size, md5: digest };
    } catch (error) {
      if (direct) await truncate(join(uploadDir, JOINED), offset).catch(() => {});
      state.spoiled = true;
      throw error;
    } finally {
      state.writing.delete(number);
      if (direct) state.busy = false;
      joinSoon(state);
    }
  };

  store.putObjectMultipart = async (bucket, uploadId, parts) => {
    const uploadDir = uploadDirOf(bucket, uploadId);
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
    const assembled = await joinListed(uploadDir, uploads.get(uploadDir), stored);
    uploads.delete(uploadDir);
    const objectPath = store.getResourcePath(bucket, key, "object");
    await mkdir(dirname(objectPath), { recursive: true });
    await rename(assembled, objectPath);
    await store.putMetadata(bucket, key, new S3Object(bucket, key, null, metadata).metadata, etag);
    await rm(uploadDir, { recursive: true, force: true });
    return { size: stored.reduce((sum, part) => sum + part.size, 0), md5: etag };
  };

  return { forget: (bucket, uploadId) => uploads.delete(uploadDirOf(bucket, uploadId)) };
}

/** Starts appending the parts that now follow the joined ones, unless that is under way (it then goes on). */
function joinSoon(state) {
  if (state.busy) {
    state.again = true;
    return;
  }
  state.busy = true;
  state.again = false;
  state.running = joinNext(state)
    .catch(() => {
      state.spoiled = true;
    })
    .finally(() => {
      state.busy = false;
      if (state.again) joinSoon(state);
    });
}

/** Appends to the joined file every part, kept in its own file, that follows the ones joined, in order. */
async function joinNext(state) {
  for (;;) {
    const number = state.joined.length + 1;
    if (state.spoiled || state.writing.has(number)) return;
    state.appending = number;
    try {
      const path = join(state.uploadDir, String(number));
      let md5;
      let size;
      try {
        [md5, { size }] = await Promise.all([readFile(`${path}.md5`, "utf8"), stat(path)]);
      } catch (error) {
        if (missing(error)) return;
        throw error;
      }
      await appendParts(join(state.uploadDir, JOINED), [{ path, offset: 0, size }]);
      if (state.spoiled) return;
      state.joined.push({ number, md5, size });
      state.bytes += size;
    } finally {
      state.appending = 0;
    }
  }
}

/** Waits until nothing is being written to the joined file. */
async function settled(state) {
  while (state.busy) await state.running;
}

/**
 * The file holding the listed parts, joined: the joined file when its parts begin the list (cut to the list when
 * it holds more, the rest of the list appended), else a fresh join of the parts from wherever they are.
 */
async function joinListed(uploadDir, state, stored) {
  if (state) await settled(state);
  const joined = join(uploadDir, JOINED);
  if (state && !state.spoiled) {
    let prefix = 0;
    let bytes = 0;
    while (
      prefix < stored.length &&
      prefix < state.joined.length &&
      stored[prefix].number === state.joined[prefix].number &&
      stored[prefix].md5 === state.joined[prefix].md5
    ) {
      bytes += state.joined[prefix].size;
      prefix++;
    }
    if (prefix > 0 && (prefix === stored.length || prefix === state.joined.length)) {
      if (bytes < state.bytes) await truncate(joined, bytes);
      await appendParts(joined, stored.slice(prefix));
      return joined;
    }
  }
  const assembled = join(uploadDir, "assembled");
  await rm(assembled, { force: true });
  await appendParts(assembled, stored);
  return assembled;
}

/**
 * The listed parts as stored, after S3's checks on the list (s3rver has refused an empty list already): each in
 * its own file, or at its place in the joined file.
 */
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
    let place;
    try {
      [md5, place] = await Promise.all([readFile(`${path}.md5`, "utf8"), placeOf(uploadDir, path)]);
    } catch (error) {
      if (!missing(error)) throw error;
    }
    if (md5 === undefined || md5 !== etag || place === undefined) {
      throw new S3Error(
        "InvalidPart",
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        { PartNumber: number, ETag: etag },
      );
    }
    stored.push({ number, md5, ...place });
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

/** Where a part's bytes are: its own file, or a range of the joined file. */
async function placeOf(uploadDir, path) {
  try {
    const [offset, size] = (await readFile(`${path}.at`, "utf8")).split(" ").map(Number);
    return { path: join(uploadDir, JOINED), offset, size };
  } catch (error) {
    if (!missing(error)) throw error;
  }
  const { size } = await stat(path);
  return { path, offset: 0, size };
}

/** Appends each part's bytes (`size` bytes of `path` from `offset`) to `target`. */
async function appendParts(target, parts) {
  if (parts.length === 0) return;
  const output = await open(target, "a");
  const buffer = Buffer.allocUnsafe(
    Math.min(COPY_BUFFER_BYTES, Math.max(...parts.map((part) => part.size), 1)),
  );
  try {
    for (const part of parts) {
      const input = await open(part.path, "r");
      try {
        for (let at = 0; at < part.size; ) {
          const { bytesRead } = await input.read(
            buffer,
            0,
            Math.min(buffer.length, part.size - at),
            part.offset + at,
          );
          if (bytesRead === 0) throw new Error(`${part.path} ends before its part does`);
          await output.write(buffer, 0, bytesRead);
          at += bytesRead;
        }
      } finally {
        await input.close();
      }
    }
  } finally {
    await output.close();
  }
}
