// Multipart uploads for s3rver's file store, as S3 does them. s3rver stores each part in a file, then on completion
// streams them all through a second MD5 of the whole object into a new file: on the 400 MB file, the ingest step
// waited 2.7 s with nothing to do after its last byte, while both objects were hashed and written again. S3 never
// hashes a multipart object whole: its ETag is the MD5 of the parts' MD5s and the part count. Here the parts'
// MD5s (hashed as they arrived) give that ETag. S3's checks come first, as S3 makes them, so that the embedded
// server refuses what S3 would: parts in ascending order, each ETag the stored part's, every part but the last at
// least 5 MiB.
//
// The object is built while the upload goes on. Parts take their places in the upload's `joined` file in part
// number order: a part whose number comes next, and whose size is known from its Content-Length, is written
// straight to its place as it arrives, beside the parts before it still arriving; another is kept in its own
// file and copied to its place once it is next. A completion that lists exactly the placed parts (what every
// client sends) is then a rename, and each byte was written once: joining both objects of the 400 MB file after
// their last part had kept the ingest step waiting 1.2 s, and writing every byte twice had kept s3rver's thread,
// which bounds the step, busy. Any other list (a subset, a gap, a part sent again after it was placed) is joined
// afresh from wherever its parts are.
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
  /** Per upload folder: the parts placed in the joined file, and what is being written. */
  const uploads = new Map();
  const uploadDirOf = (bucket, uploadId) =>
    join(store.getResourcePath(bucket, undefined, "uploads"), uploadId);
  const stateOf = (uploadDir) => {
    let state = uploads.get(uploadDir);
    if (!state) {
      state = {
        uploadDir,
        /** Placed parts by number, 1 to `next - 1`: { offset, size, md5 } once written, md5 undefined before. */
        placed: new Map(),
        next: 1,
        end: 0,
        /** Part numbers being received into their own file, and how many times each number was sent. */
        writing: new Set(),
        sent: new Map(),
        /** A part is being copied from its own file: its number. */
        copying: 0,
        /** The joined file can no longer be trusted as it is (a write to it failed): the completion joins afresh. */
        spoiled: false,
        again: false,
        running: undefined,
        inFlight: new Set(),
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
    // Noted at once, in the same step as the checks: the copier reads a part's file only when no one is writing
    // it and the number was not sent again meanwhile.
    const sending = (state.sent.get(number) ?? 0) + 1;
    state.sent.set(number, sending);
    if (number === state.copying) state.spoiled = true;
    const length = Number(content.headers?.["content-length"]);
    const direct =
      !state.spoiled &&
      number === state.next &&
      Number.isSafeInteger(length) &&
      content.headers?.["x-amz-decoded-content-length"] === undefined;
    let place;
    if (direct) {
      place = { offset: state.end, size: length, md5: undefined };
      state.placed.set(number, place);
      state.next++;
      state.end += length;
    } else {
      state.writing.add(number);
    }
    const written = (async () => {
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
        // A part in its own file is written beside it and renamed, so that two sends of one number never write
        // the same file.
        direct
          ? await placeWriter(join(uploadDir, JOINED), place.offset)
          : createWriteStream(`${path}.${sending}`),
      );
      if (direct && size !== length) throw new Error(`part ${number}: ${size} bytes, not its Content-Length`);
      const digest = md5.digest("hex");
      // Sent again since: the later send is the part (its bookkeeping must not be undone by this one's).
      if (state.sent.get(number) !== sending) {
        state.spoiled = true;
        await rm(`${path}.${sending}`, { force: true });
        return { size, md5: digest };
      }
      if (direct) {
        // The part's bytes live in the joined file: an older copy in its own file is gone, its place noted.
        await rm(path, { force: true });
        await writeFile(`${path}.at`, `${place.offset} ${size}`);
        place.md5 = digest;
      } else {
        await rename(`${path}.${sending}`, path);
        await rm(`${path}.at`, { force: true });
      }
      await writeFile(`${path}.md5`, digest);
      return { size, md5: digest };
    })();
    state.inFlight.add(written);
    try {
      return await written;
    } catch (error) {
      if (direct) state.spoiled = true;
      throw error;
    } finally {
      state.inFlight.delete(written);
      state.writing.delete(number);
      copySoon(state);
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

/** A stream writing at `offset` of `path`, made if missing. */
async function placeWriter(path, offset) {
  await createIfMissing(path);
  return createWriteStream(path, { flags: "r+", start: offset });
}

/** Makes `path` an empty file unless it exists, so that it opens "r+": an append-mode file ignores offsets. */
async function createIfMissing(path) {
  await (await open(path, "a")).close();
}

/** Starts copying the parts kept in their own files that come next, unless that is under way (it then goes on). */
function copySoon(state) {
  if (state.running) {
    state.again = true;
    return;
  }
  state.again = false;
  state.running = copyNext(state)
    .catch(() => {
      state.spoiled = true;
    })
    .finally(() => {
      state.running = undefined;
      if (state.again) copySoon(state);
    });
}

/** Copies to its place each part, kept in its own file, whose number comes next, in order. */
async function copyNext(state) {
  for (;;) {
    const number = state.next;
    if (state.spoiled || state.writing.has(number)) return;
    const sent = state.sent.get(number);
    const path = join(state.uploadDir, String(number));
    let md5;
    let size;
    try {
      [md5, { size }] = await Promise.all([readFile(`${path}.md5`, "utf8"), stat(path)]);
    } catch (error) {
      if (missing(error)) return;
      throw error;
    }
    // Sent again while its size and MD5 were read: they may be of different copies. Its own end copies it.
    if (state.writing.has(number) || state.sent.get(number) !== sent || state.next !== number) return;
    state.copying = number;
    const place = { offset: state.end, size, md5: undefined };
    state.placed.set(number, place);
    state.next++;
    state.end += size;
    try {
      await copyInto(join(state.uploadDir, JOINED), place.offset, [{ path, offset: 0, size }]);
    } finally {
      state.copying = 0;
    }
    place.md5 = md5;
  }
}

/**
 * The file holding the listed parts, joined: the joined file when its placed parts begin the list (cut to the
 * list when it holds more, the rest of the list appended), else a fresh join of the parts from wherever they are.
 */
async function joinListed(uploadDir, state, stored) {
  if (state) {
    await Promise.allSettled([...state.inFlight]);
    while (state.running) await state.running;
  }
  const joined = join(uploadDir, JOINED);
  if (state && !state.spoiled && state.placed.size > 0) {
    let prefix = 0;
    let bytes = 0;
    for (; prefix < stored.length; prefix++) {
      const place = state.placed.get(prefix + 1);
      const part = stored[prefix];
      if (place === undefined || part.number !== prefix + 1 || place.md5 !== part.md5) break;
      bytes += place.size;
    }
    if (prefix > 0 && (prefix === stored.length || prefix === state.placed.size)) {
      if (bytes < state.end) await truncate(joined, bytes);
      await copyInto(joined, bytes, stored.slice(prefix));
      return joined;
    }
  }
  const assembled = join(uploadDir, "assembled");
  await rm(assembled, { force: true });
  await copyInto(assembled, 0, stored);
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

/** Writes each part's bytes (`size` bytes of `path` from `offset`) one after another into `target` from `at`. */
async function copyInto(target, at, parts) {
  if (parts.length === 0) return;
  await createIfMissing(target);
  const output = await open(target, "r+");
  const buffer = Buffer.allocUnsafe(
    Math.min(COPY_BUFFER_BYTES, Math.max(...parts.map((part) => part.size), 1)),
  );
  let position = at;
  try {
    for (const part of parts) {
      const input = await open(part.path, "r");
      try {
        for (let done = 0; done < part.size; ) {
          const { bytesRead } = await input.read(
            buffer,
            0,
            Math.min(buffer.length, part.size - done),
            part.offset + done,
          );
          if (bytesRead === 0) throw new Error(`${part.path} ends before its part does`);
          await output.write(buffer, 0, bytesRead, position);
          done += bytesRead;
          position += bytesRead;
        }
      } finally {
        await input.close();
      }
    }
  } finally {
    await output.close();
  }
}
