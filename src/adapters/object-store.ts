import { PassThrough, Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  NoSuchKey,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { StorageConfig } from "../config.js";
import { RoadtollError } from "../errors.js";

export function createS3Client(
  config: StorageConfig,
  credentials?: { accessKeyId: string; secretAccessKey: string },
): S3Client {
  return new S3Client({
    region: config.region,
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
    const upload = new Upload({
      client: this.s3,
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
        // lib-storage settles `done` as soon as it is aborted and sends AbortMultipartUpload later, in the
        // background: a Lambda frozen after returning would never send it, and the parts would stay (and be
        // billed). Abort it here, before the step returns; a second abort of the same upload is harmless.
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

  async read(key: string): Promise<Readable> {
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!(response.Body instanceof Readable)) throw new Error("S3 returned no readable body");
      return response.Body;
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

function storageError(message: string, cause: unknown, key: string): RoadtollError {
  if (cause instanceof RoadtollError) return cause;
  const detail = cause instanceof S3ServiceException ? `${cause.name}: ${cause.message}` : String(cause);
  return new RoadtollError("StorageError", `${message} (${detail})`, { cause, where: { file: key } });
}
