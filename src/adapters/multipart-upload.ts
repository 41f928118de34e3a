import { finished, Writable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  type ChecksumAlgorithm,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";

/**
 * How long an abort waits for a CreateMultipartUpload under way to answer before cancelling it: one that hangs
 * must not hold the failed step, and one about to answer must, since S3 has then made an upload to remove.
 */
const CREATE_GRACE_MS = 1_000;

/** S3's limit on the parts of one upload. */
const MAX_PARTS = 10_000;

export interface MultipartUploadOptions {
  client: S3Client;
  bucket: string;
  key: string;
  contentType: string;
  metadata: Record<string, string>;
  /** Bytes per part (S3: at least 5 MiB, except the last). */
  partSize: number;
  /** Parts in flight at once. */
  queueSize: number;
  /**
   * The checksum S3 is told to expect on every part (CreateMultipartUpload's ChecksumAlgorithm), when the client
   * sends one: CompleteMultipartUpload must then list each part's. Undefined when the client sends none.
   */
  checksumAlgorithm: Promise<ChecksumAlgorithm | undefined>;
  /**
   * The error a failure becomes, for the writer (its pipeline fails with it) and for `done` alike: whichever the
   * caller sees first names the object.
   */
  failure: (cause: unknown) => Error;
}

/** An object being written: write to `body`, then await `done`; `abort` leaves no object and no parts behind. */
export interface MultipartUpload {
  body: Writable;
  done: Promise<void>;
  abort(): Promise<void>;
}

/**
 * Streams an object into S3 copying each byte once: written bytes go straight into one of `queueSize + 1` part
 * buffers, allocated once and reused, and a full buffer is sent as it is. (@aws-sdk/lib-storage collects the
 * stream's chunks and concatenates them into a new buffer for every part, so each byte was copied twice and each
 * part left 8 MiB of garbage, and its memory rose with how long V8 waited to collect it.) Writes wait while
 * `queueSize` parts are in flight, so memory is `(queueSize + 1) × partSize` whatever the object's size.
 *
 * An object that fits one part is sent by one PutObject. Otherwise CreateMultipartUpload, the parts, then
 * CompleteMultipartUpload: the object appears only then, whole. Any failure, or `abort`, cancels the requests in
 * flight (the SDK's retries with them) and sends AbortMultipartUpload, before `done` rejects or `abort` returns,
 * so no part is left stored (and billed) after a failed step. Each request is retried by the client's own retry
 * strategy; a part's body is a buffer, so every retry resends it whole.
 */
export function startMultipartUpload(options: MultipartUploadOptions): MultipartUpload {
  const { client, bucket, key, partSize, queueSize } = options;
  let checksumAlgorithm: ChecksumAlgorithm | undefined;
  const cancel = new AbortController();
  // Cancelled last (cleanUp): S3 may have made the upload before its answer is back, and only that answer's
  // UploadId lets the parts be removed.
  const cancelCreate = new AbortController();
  const signal = { abortSignal: cancel.signal };

  const spare: Buffer[] = [];
  let current: Buffer | undefined;
  let filled = 0;
  let partNumber = 0;
  const inFlight = new Set<Promise<void>>();
  const parts: CompletedPart[] = [];
  let uploadId: Promise<string> | undefined;
  let completing: Promise<void> | undefined;
  let failure: unknown;
  let reported: Error | undefined;
  const fail = (error: unknown): Error => {
    reported ??= options.failure(failure ?? error);
    return reported;
  };

  const started = (): Promise<string> => {
    uploadId ??= (async () => {
      checksumAlgorithm = await options.checksumAlgorithm;
      const { UploadId } = await client.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ContentType: options.contentType,
          Metadata: options.metadata,
          ...(checksumAlgorithm ? { ChecksumAlgorithm: checksumAlgorithm } : {}),
        }),
        { abortSignal: cancelCreate.signal },
      );
      if (!UploadId) throw new Error("CreateMultipartUpload returned no UploadId");
      return UploadId;
    })();
    return uploadId;
  };

  const sendPart = (buffer: Buffer, length: number): void => {
    if (partNumber >= MAX_PARTS)
      throw new Error(`the object needs more than S3's ${MAX_PARTS} parts of ${partSize} bytes`);
    const number = ++partNumber;
    const sent = (async () => {
      const id = await started();
      const result = await client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: id,
          PartNumber: number,
          Body: buffer.subarray(0, length),
          ContentLength: length,
          // Named, not left to the SDK's default: S3 wants each part's checksum of the upload's algorithm.
          ...(checksumAlgorithm ? { ChecksumAlgorithm: checksumAlgorithm } : {}),
        }),
        signal,
      );
      if (!result.ETag) throw new Error(`UploadPart ${number} returned no ETag`);
      const checksum = checksumAlgorithm && `Checksum${checksumAlgorithm}`;
      parts.push({
        PartNumber: number,
        ETag: result.ETag,
        ...(checksum ? { [checksum]: result[checksum as keyof typeof result] } : {}),
      });
    })().then(
      // Reused only once its request is over, retries included.
      () => void spare.push(buffer),
      (error: unknown) => {
        failure ??= error;
      },
    );
    const tracked = sent.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };

  const nextBuffer = (): Buffer => {
    const buffer = spare.pop();
    if (buffer) return buffer;
    // Not from Node's shared pool, and not zeroed: every byte is written before it is sent.
    return Buffer.allocUnsafeSlow(partSize);
  };

  /** Sends the buffer being filled once fewer than `queueSize` parts are in flight. */
  const sendCurrent = async (): Promise<void> => {
    while (inFlight.size >= queueSize) await Promise.race(inFlight);
    if (failure) throw failure;
    if (current) sendPart(current, filled);
    current = undefined;
    filled = 0;
  };

  /** Sends the full buffer once more bytes are known to follow, so a one-part object stays one PutObject. */
  const flushFull = async (): Promise<void> => {
    if (current && filled === partSize) await sendCurrent();
  };

  const write = async (chunk: Buffer): Promise<void> => {
    if (failure) throw failure;
    let offset = 0;
    while (offset < chunk.length) {
      await flushFull();
      current ??= nextBuffer();
      const copied = chunk.copy(current, filled, offset);
      filled += copied;
      offset += copied;
    }
  };

  const complete = async (): Promise<void> => {
    if (failure) throw failure;
    cancel.signal.throwIfAborted();
    if (partNumber === 0) {
      // The whole object in one part: one request, no multipart upload to complete or abort.
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: current ? current.subarray(0, filled) : Buffer.alloc(0),
          ContentLength: filled,
          ContentType: options.contentType,
          Metadata: options.metadata,
        }),
        signal,
      );
      return;
    }
    if (filled > 0) await sendCurrent();
    await Promise.all(inFlight);
    if (failure) throw failure;
    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: await started(),
        MultipartUpload: { Parts: parts },
      }),
      signal,
    );
  };

  const body = new Writable({
    // One part's worth: the writer pauses only when the part buffers are all taken.
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      write(chunk).then(
        () => callback(),
        (error: unknown) => callback(fail(error)),
      );
    },
    // The writer is done once every byte is taken; the upload completes behind it, awaited through `done`. A
    // writer feeding several uploads (the raw and clean copies) can still fail after this one's last byte, and
    // its caller's abort must then find the completion still cancellable rather than the object already made.
    final(callback) {
      completing = complete();
      completing.catch(() => {});
      callback();
    },
  });

  let cleanedUp: Promise<void> | undefined;
  /** Stops every request of this upload and removes its parts; the object never appears. */
  const cleanUp = (): Promise<void> => {
    cleanedUp ??= (async () => {
      cancel.abort();
      if (uploadId) {
        const answered = await Promise.race([
          uploadId.then(
            () => true,
            () => true,
          ),
          new Promise<false>((resolve) => setTimeout(resolve, CREATE_GRACE_MS, false).unref()),
        ]);
        if (!answered) cancelCreate.abort();
      }
      await Promise.all(inFlight);
      const id = await uploadId?.catch(() => undefined);
      // On the plain client, without the cancelled signal; a Lambda frozen after returning would never send it.
      if (id)
        await client
          .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }))
          .catch(() => {});
    })();
    return cleanedUp;
  };

  const done = new Promise<void>((resolve, reject) => {
    finished(body, (error) => {
      const outcome = error ? Promise.reject(error) : (completing ?? Promise.resolve());
      outcome.then(resolve, (cause: unknown) => cleanUp().then(() => reject(fail(cause))));
    });
  });
  // Callers await `done` after the writer finishes; until then a rejection must not crash the process.
  done.catch(() => {});

  return {
    body,
    done,
    abort: async () => {
      // Cancels first: a completion under way must fail, not finish making the object.
      const cleaning = cleanUp();
      body.destroy();
      await done.catch(() => {});
      await cleaning;
    },
  };
}
