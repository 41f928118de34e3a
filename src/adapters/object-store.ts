import { finished, PassThrough, Readable, Transform } from "node:stream";
import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  NoSuchKey,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { ConfiguredRetryStrategy } from "@smithy/core/retry";
import { DEFAULT_S3_MAX_ATTEMPTS, DEFAULT_S3_TIMEOUT_MS, type StorageConfig } from "../config.js";
import { RoadtollError } from "../errors.js";

export function createS3Client(
  config: StorageConfig,
  credentials?: { accessKeyId: string; secretAccessKey: string },
): S3Client {
  const maxAttempts = config.maxAttempts ?? DEFAULT_S3_MAX_ATTEMPTS;
  const timeoutMs = config.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS;
  return new S3Client({
    region: config.region,
    // The SDK's standard retry, stated rather than left to AWS_RETRY_MODE / AWS_MAX_ATTEMPTS: every request
    // (each part of an upload on its own) is retried on 5xx, SlowDown and other throttling, and connection
    // resets, with jittered exponential backoff and the SDK's retry quota. Not "adaptive": its client-side rate
    // limiter suits many concurrent callers of one client, and a step sends at most a few requests at a time.
    retryMode: "standard",
    maxAttempts,
    // Tests only: the same standard strategy (retryable errors, attempts, quota) with a fixed short delay.
    ...(config.retryDelayMs !== undefined
      ? { retryStrategy: new ConfiguredRetryStrategy(maxAttempts, config.retryDelayMs) }
      : {}),
    // The client's own socket inactivity timeout (none by default): a stalled connection fails as a
    // TimeoutError, which the standard retry repeats, instead of hanging the step until the Lambda times out.
    requestHandler: {
      connectionTimeout: Math.min(timeoutMs, 10_000),
      socketTimeout: timeoutMs,
    },
    ...(credentials ? { credentials } : {}),
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle,
    // S3-compatible servers (s3rver among them) reject the SDK's default CRC32 trailers, so against them
    // checksums are sent only where S3 requires them; real S3 keeps the SDK's end-to-end integrity checks.
    ...(config.endpoint
      ? { requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" }
      : {}),
  });
}

/** An object being written: write to `body`, then await `done`; `abort` leaves no object behind. */
export interface PendingUpload {
  body: PassThrough;
  done: Promise<void>;
  abort(): Promise<void>;
}

/**
 * The one S3 bucket the pipeline uses. Uploads are multipart through lib-storage: memory is bounded by
 * `partSize × queueSize` whatever the object's size, and an object appears only when the upload completes, so a
 * failed step never leaves a half-written object.
 */
export class ObjectStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  openUpload(key: string, contentType: string, metadata: Record<string, string> = {}): PendingUpload {
    const body = new PassThrough();
    // lib-storage stops queueing work when aborted, but lets the requests it has sent run on, the SDK's
    // retries included (seconds, under throttling): after a failed step they would go on creating an upload or
    // sending parts behind it. Every request of this upload carries the abort signal instead.
    const cancel = new AbortController();
    const upload = new Upload({
      client: withAbortSignal(this.s3, cancel.signal),
      abortController: cancel,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, Metadata: metadata },
      partSize: 8 * 1024 * 1024,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const done = upload.done().then(
      () => undefined,
      (error: unknown) => {
        throw storageError(`cannot write s3://${this.bucket}/${key}`, error, key);
      },
    );
    // Callers await `done` after the writer finishes; until then a rejection must not crash the process.
    done.catch(() => {});
    return {
      body,
      done,
      abort: async () => {
        body.destroy();
        await upload.abort().catch(() => {});
        await done.catch(() => {});
        // lib-storage settles `done` as soon as it is aborted and would send AbortMultipartUpload later, in the
        // background (and, with the signal above, in vain): a Lambda frozen after returning would never send it,
        // and the parts would stay (and be billed). Abort it here, on the plain client, before the step returns.
        if (upload.uploadId) {
          await this.s3
            .send(
              new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: upload.uploadId }),
            )
            .catch(() => {});
        }
      },
    };
  }

  /**
   * The object's bytes, streamed. The SDK retries the request itself; once the body flows, nothing can retry
   * it, so a connection that breaks mid-body fails the stream with a StorageError naming the object (which the
   * state machine retries), never a bare ECONNRESET, and never a short file read as if it were whole.
   */
  async read(key: string): Promise<Readable> {
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!(response.Body instanceof Readable)) throw new Error("S3 returned no readable body");
      return guardBody(response.Body, response.ContentLength, (received, error) =>
        storageError(
          `cannot read s3://${this.bucket}/${key}: the body broke off after ${received}` +
            (response.ContentLength === undefined ? "" : ` of ${response.ContentLength}`) +
            " bytes",
          error,
          key,
        ),
      );
    } catch (error) {
      if (error instanceof NoSuchKey) {
        throw new RoadtollError("ObjectNotFoundError", `s3://${this.bucket}/${key} does not exist`, {
          cause: error,
          where: { file: key },
        });
      }
      throw storageError(`cannot read s3://${this.bucket}/${key}`, error, key);
    }
  }
}

/** The client as lib-storage sees it: the same client, whose every request carries `signal`. */
function withAbortSignal(s3: S3Client, signal: AbortSignal): S3Client {
  const send = (command: Parameters<S3Client["send"]>[0], options?: { abortSignal?: AbortSignal }) =>
    s3.send(command, { ...options, abortSignal: signal });
  return new Proxy(s3, {
    get: (target, property) => (property === "send" ? send : Reflect.get(target, property, target)),
  });
}

/**
 * Passes the body through unchanged, counting bytes, and turns any way it can end early (a transport error, or a
 * close before its last byte) into `failure`. One identity transform per chunk: no copy, no buffering beyond the
 * stream's own high-water mark. Destroying what it returns (a consumer that stops early) releases the body.
 */
function guardBody(
  body: Readable,
  contentLength: number | undefined,
  failure: (received: number, cause: unknown) => RoadtollError,
): Readable {
  let received = 0;
  const guarded = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      // A body that ends cleanly but short (no transport error) is still not the object.
      if (contentLength !== undefined && received !== contentLength) {
        callback(failure(received, new Error("the body ended early")));
      } else callback();
    },
  });
  finished(body, (error) => {
    if (error) guarded.destroy(failure(received, error));
  });
  guarded.once("close", () => body.destroy());
  body.pipe(guarded);
  return guarded;
}

function storageError(message: string, cause: unknown, key: string): RoadtollError {
  if (cause instanceof RoadtollError) return cause;
  let detail = cause instanceof S3ServiceException ? `${cause.name}: ${cause.message}` : String(cause);
  // How many requests the SDK made, its retries included.
  const attempts = (cause as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts;
  if (attempts !== undefined) detail += `; ${attempts} attempt${attempts === 1 ? "" : "s"}`;
  return new RoadtollError("StorageError", `${message} (${detail})`, { cause, where: { file: key } });
}
