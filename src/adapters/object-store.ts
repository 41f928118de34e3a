import { finished, Readable, Transform, type Writable } from "node:stream";
import {
  BucketAlreadyOwnedByYou,
  type BucketLocationConstraint,
  type ChecksumAlgorithm,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { RetryStrategyV2 } from "@smithy/types";
import { RoadtollError } from "../errors.js";
import { isLoopbackHost } from "./loopback-host.js";
import { startMultipartUpload } from "./multipart-upload.js";
import { signObjectBodiesUnhashed } from "./unsigned-payload.js";

/**
 * Attempts per S3 request, the first included, under the SDK's standard retry mode (5xx, SlowDown and other
 * throttling, connection resets). 5 rather than the SDK's 3: a retry inside the SDK repeats one request, while a
 * retry of the step (the state machine's) downloads and uploads the whole file again. With the SDK's backoff
 * (full jitter; base 50 ms, or 1 s after throttling) the four retries wait at most about 15 s in all.
 */
export const DEFAULT_S3_MAX_ATTEMPTS = 5;

/** Long enough for any pause a healthy S3 makes; far below the functions' 840 s timeout. */
export const DEFAULT_S3_TIMEOUT_MS = 60_000;

export interface StorageConfig {
  bucket: string;
  region: string;
  /** Only for S3-compatible servers (s3rver, LocalStack); unset on AWS. */
  endpoint: string | undefined;
  forcePathStyle: boolean;
  /** Attempts per S3 request (S3_MAX_ATTEMPTS); DEFAULT_S3_MAX_ATTEMPTS when not given. */
  maxAttempts?: number;
  /**
   * Silence on an S3 connection (connecting, waiting for an answer, or mid-body) after which the request is
   * abandoned as a timeout, which the SDK retries (S3_TIMEOUT_MS, default 60 s). Without it a hung request
   * would hold the step until the Lambda itself timed out.
   */
  timeoutMs?: number;
}

export function createS3Client(
  config: StorageConfig,
  credentials?: { accessKeyId: string; secretAccessKey: string },
  options: {
    purpose?: "requests" | "presign";
    /** Tests: the SDK's standard strategy with a short fixed delay (tests/support/retry.ts), not its backoff. */
    retryStrategy?: RetryStrategyV2;
  } = {},
): S3Client {
  const maxAttempts = config.maxAttempts ?? DEFAULT_S3_MAX_ATTEMPTS;
  const timeoutMs = config.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS;
  const client = new S3Client({
    region: config.region,
    // The SDK's standard retry, stated rather than left to AWS_RETRY_MODE / AWS_MAX_ATTEMPTS: every request
    // (each part of an upload on its own) is retried on 5xx, SlowDown and other throttling, and connection
    // resets, with jittered exponential backoff and the SDK's retry quota. Not "adaptive": its client-side rate
    // limiter suits many concurrent callers of one client, and a step sends at most a few requests at a time.
    retryMode: "standard",
    maxAttempts,
    ...(options.retryStrategy ? { retryStrategy: options.retryStrategy } : {}),
    // The client's own socket inactivity timeout (none by default): a stalled connection fails as a
    // TimeoutError, which the standard retry repeats, instead of hanging the step until the Lambda times out.
    requestHandler: {
      connectionTimeout: Math.min(timeoutMs, 10_000),
      socketTimeout: timeoutMs,
    },
    ...(credentials ? { credentials } : {}),
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle,
    // The SDK sends "Expect: 100-continue" with every body of 2 MB or more (each upload part) and holds the body
    // until the server answers, so that a request S3 refuses costs no bandwidth. On loopback the body costs
    // nothing and the wait is pure latency: against the embedded S3 it held each 5 MiB part 15-20 ms before its
    // first byte (median, 400 MB ingest), with two parts in flight per object. AWS keeps the SDK's default.
    ...(isLoopbackEndpoint(config.endpoint) ? { expectContinueHeader: false } : {}),
    // Against an S3-compatible server, checksums are sent only where S3 requires them; real S3 keeps the SDK's
    // end-to-end integrity checks. The servers differ here, and which one is behind an endpoint cannot be told:
    // moto_server verifies and stores the SDK's CRC32 headers; s3rver ignores them, and a body the SDK streams
    // (aws-chunked, the CRC32 in a trailer) s3rver stores framing and all ("3\r\nabc\r\n0\r\nx-amz-checksum-
    // crc32:…" for "abc"), a corrupt object and no error. Upload parts are buffers and never stream, but the
    // form every server reads alike is the one without the newer checksums.
    //
    // A presigned URL is another matter: with the SDK's default (WHEN_SUPPORTED, since 3.729) a PutObject URL
    // carries x-amz-checksum-crc32 and x-amz-sdk-checksum-algorithm, signed, holding the CRC32 of the *empty*
    // body the signer saw. Whoever then PUTs a file through it sends bytes that do not match, and S3 (and other
    // servers, aws-sdk-js-v3#6994) can refuse them. The uploader computes no checksum the URL could name, so a
    // presigning client never signs one, whatever the endpoint.
    ...(config.endpoint || options.purpose === "presign"
      ? { requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" }
      : {}),
  });
  if (options.purpose !== "presign") signObjectBodiesUnhashed(client);
  return client;
}

/** An endpoint on this machine (the embedded S3, a local server); a malformed one is not. */
function isLoopbackEndpoint(endpoint: string | undefined): boolean {
  const url = endpoint ? URL.parse(endpoint) : null;
  return url !== null && isLoopbackHost(url.hostname);
}

/**
 * The store over the bucket `config` names: one client for requests, and one (which never sends a request) to
 * sign upload URLs with, without a checksum (see createS3Client).
 */
export function openObjectStore(
  config: StorageConfig,
  credentials?: { accessKeyId: string; secretAccessKey: string },
): ObjectStore {
  return new ObjectStore(createS3Client(config, credentials), config.bucket, {
    presigner: createS3Client(config, credentials, { purpose: "presign" }),
  });
}

/** An object read from the bucket, with the metadata S3 returned for it. */
export interface StoredObject {
  body: Readable;
  /** The ETag, quotes included, as S3 sends it. */
  etag: string;
  size?: number | undefined;
  lastModified?: Date | undefined;
  /** True when `ifNoneMatch` still matched (HTTP 304): `body` is empty. */
  notModified: boolean;
}

/** Bytes per upload part; with UPLOAD_QUEUE parts in flight, an upload holds (UPLOAD_QUEUE + 1) of these. */
export const UPLOAD_PART_BYTES = 5 * 1024 * 1024;
const UPLOAD_QUEUE = 2;

/** An object being written: write to `body`, then await `done`; `abort` leaves no object behind. */
export interface PendingUpload {
  body: Writable;
  done: Promise<void>;
  abort(): Promise<void>;
}

/**
 * The one S3 bucket the pipeline uses. Uploads are multipart (multipart-upload.ts): memory is bounded by the
 * part buffers whatever the object's size, and an object appears only when the upload completes, so a failed
 * step never leaves a half-written object.
 */
export class ObjectStore {
  private readonly presigner: S3Client | undefined;
  private checksum: Promise<ChecksumAlgorithm | undefined> | undefined;

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    options: { presigner?: S3Client } = {},
  ) {
    this.presigner = options.presigner;
  }

  openUpload(key: string, contentType: string, metadata: Record<string, string> = {}): PendingUpload {
    const upload = startMultipartUpload({
      client: this.s3,
      bucket: this.bucket,
      key,
      contentType,
      metadata,
      partSize: UPLOAD_PART_BYTES,
      queueSize: UPLOAD_QUEUE,
      checksumAlgorithm: this.partChecksum(),
      failure: (error) => storageError(`cannot write s3://${this.bucket}/${key}`, error, key),
    });
    return { body: upload.body, done: upload.done, abort: upload.abort };
  }

  /**
   * What the SDK itself adds to each part: a CRC32, unless the client sends checksums only where required
   * (S3-compatible servers, see createS3Client). The multipart upload must then be created for it.
   */
  private partChecksum(): Promise<ChecksumAlgorithm | undefined> {
    this.checksum ??= this.s3.config
      .requestChecksumCalculation()
      .then((when) => (when === "WHEN_SUPPORTED" ? "CRC32" : undefined));
    return this.checksum;
  }

  /**
   * The object's bytes, streamed. The SDK retries the request itself; once the body flows, nothing can retry
   * it, so a connection that breaks mid-body fails the stream with a StorageError naming the object (which the
   * state machine retries), never a bare ECONNRESET, and never a short file read as if it were whole.
   */
  async read(key: string): Promise<Readable> {
    return (await this.readObject(key)).body;
  }

  /** A small object in one PutObject (a state record): no multipart upload to abort. */
  async writeText(key: string, text: string, contentType: string): Promise<void> {
    try {
      await this.s3.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: text, ContentType: contentType }),
      );
    } catch (error) {
      throw storageError(`cannot write s3://${this.bucket}/${key}`, error, key);
    }
  }

  /**
   * As `read`, with what S3 says of the object: its ETag (which names this version of its bytes), size and last
   * modification. With `ifNoneMatch` (an ETag), S3 answers 304 when the object still has it: `notModified`.
   */
  async readObject(key: string, options: { ifNoneMatch?: string | undefined } = {}): Promise<StoredObject> {
    try {
      const response = await this.s3.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...(options.ifNoneMatch ? { IfNoneMatch: options.ifNoneMatch } : {}),
        }),
      );
      if (!(response.Body instanceof Readable)) throw new Error("S3 returned no readable body");
      const body = guardBody(response.Body, response.ContentLength, (received, error) =>
        storageError(
          `cannot read s3://${this.bucket}/${key}: the body broke off after ${received}` +
            (response.ContentLength === undefined ? "" : ` of ${response.ContentLength}`) +
            " bytes",
          error,
          key,
        ),
      );
      return {
        body,
        etag: response.ETag ?? "",
        size: response.ContentLength,
        lastModified: response.LastModified,
        notModified: false,
      };
    } catch (error) {
      if (httpStatus(error) === 304) {
        return { body: Readable.from([]), etag: options.ifNoneMatch ?? "", notModified: true };
      }
      if (error instanceof NoSuchKey) {
        throw new RoadtollError("ObjectNotFoundError", `s3://${this.bucket}/${key} does not exist`, {
          cause: error,
          where: { resource: key },
        });
      }
      throw storageError(`cannot read s3://${this.bucket}/${key}`, error, key);
    }
  }

  /**
   * A URL that lets whoever holds it PUT one object at `key` until it expires, signed locally with this client's
   * credentials (no request is made). With `contentLength` the Content-Length header is signed too, so S3 refuses
   * a body of any other size: the one way to bound a presigned PUT.
   */
  async presignPut(
    key: string,
    options: { expiresInSeconds: number; contentLength: number },
  ): Promise<string> {
    if (!this.presigner) {
      // Signing with the request client would put its checksum default into the URL (see createS3Client).
      throw new RoadtollError(
        "ConfigError",
        "this object store has no presigning client: make it with openObjectStore()",
      );
    }
    return getSignedUrl(
      this.presigner,
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ContentLength: options.contentLength,
      }),
      {
        expiresIn: options.expiresInSeconds,
        signableHeaders: new Set(["content-length"]),
      },
    );
  }

  /**
   * The first `limit` keys under `prefix`, in S3's order (ascending UTF-8 bytes); at most 1000, one request. It
   * asks for a full page and cuts it here: s3rver answers a truncated ListObjectsV2 (fewer MaxKeys than keys) with
   * an InternalError, and a page of 1000 keys costs S3 one request all the same.
   */
  async listKeys(prefix: string, limit: number): Promise<string[]> {
    try {
      const listed = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: 1000 }),
      );
      return (listed.Contents ?? []).flatMap((item) => (item.Key ? [item.Key] : [])).slice(0, limit);
    } catch (error) {
      throw storageError(`cannot list s3://${this.bucket}/${prefix}`, error, prefix);
    }
  }

  /** Removes the object at `key`; S3 answers a missing key the same way, so removing twice is fine. */
  async delete(key: string): Promise<void> {
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      throw storageError(`cannot delete s3://${this.bucket}/${key}`, error, key);
    }
  }

  /** Whether an object is at `key` (a HEAD request, which GetObject permission allows). */
  async exists(key: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (error) {
      if (httpStatus(error) === 404) return false;
      throw storageError(`cannot read s3://${this.bucket}/${key}`, error, key);
    }
  }

  /**
   * A small object read whole as UTF-8 text (a configuration file, a state record, a run summary), or undefined
   * when there is none. Past `maxBytes` (default 1 MiB) it stops reading: a ConfigError naming the object, or
   * undefined when the caller treats an oversized object as absent (`overCap: "absent"`).
   */
  async readText(
    key: string,
    options: { maxBytes?: number; overCap?: "refuse" | "absent" } = {},
  ): Promise<string | undefined> {
    const maxBytes = options.maxBytes ?? MAX_TEXT_BYTES;
    let body: Readable;
    try {
      body = await this.read(key);
    } catch (error) {
      if (error instanceof RoadtollError && error.name === "ObjectNotFoundError") return undefined;
      throw error;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) {
        body.destroy();
        if (options.overCap === "absent") return undefined;
        throw new RoadtollError(
          "ConfigError",
          `s3://${this.bucket}/${key} is over ${maxBytes} bytes, too big to read whole`,
          {
            where: { resource: key },
          },
        );
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString("utf8");
  }
}

const MAX_TEXT_BYTES = 1024 * 1024;

/**
 * Makes sure the bucket exists and this client may use it, creating it when missing; says which. HeadBucket comes
 * first because servers answer CreateBucket on a bucket that exists in different ways: S3 and moto_server in
 * us-east-1 with 200, S3 elsewhere and moto_server with BucketAlreadyOwnedByYou, s3rver with BucketAlreadyExists
 * (409), which S3 reserves for a bucket someone else owns and which must not be taken for success. Outside
 * us-east-1, S3 refuses a CreateBucket without a LocationConstraint naming the client's region
 * (IllegalLocationConstraintException), so one is sent there; s3rver and moto_server accept it
 * (tests/s3-compat.test.ts).
 */
export async function ensureBucket(s3: S3Client, bucket: string): Promise<"found" | "created"> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return "found";
  } catch (error) {
    if (httpStatus(error) !== 404) {
      throw bucketError(bucket, error);
    }
  }
  const region = await s3.config.region();
  try {
    await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        ...(region === "us-east-1"
          ? {}
          : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
      }),
    );
    return "created";
  } catch (error) {
    // Another run created it between the two requests.
    if (error instanceof BucketAlreadyOwnedByYou) return "found";
    throw bucketError(bucket, error);
  }
}

function bucketError(bucket: string, cause: unknown): RoadtollError {
  if ((cause as Error | undefined)?.name === "CredentialsProviderError") {
    return new RoadtollError(
      "ConfigError",
      `no AWS credentials for s3://${bucket}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (an S3-compatible ` +
        `server's own keys; moto_server takes any), or AWS_PROFILE (${(cause as Error).message})`,
      { cause },
    );
  }
  const status = httpStatus(cause);
  const why =
    status === 403 ? ": access denied (it may be someone else's bucket, or the keys are wrong)" : "";
  return storageError(`cannot use bucket s3://${bucket}${why}`, cause, bucket);
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
  return new RoadtollError("StorageError", `${message} (${detail})`, { cause, where: { resource: key } });
}

/** The HTTP status of an S3 error (the SDK's `$metadata`), when the server answered at all. */
function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}
