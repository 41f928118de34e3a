import type { S3Client } from "@aws-sdk/client-s3";
import { isLoopbackHost } from "./loopback-host.js";

/** The requests whose bodies are an object's bytes: a part of a multipart upload, or a whole small object. */
const OBJECT_BODIES = new Set(["UploadPartCommand", "PutObjectCommand"]);

const CONTENT_SHA256 = "x-amz-content-sha256";

/**
 * Signs an object's bytes as UNSIGNED-PAYLOAD rather than by their SHA-256, where the transport itself protects
 * them: over TLS, or on loopback (the embedded S3), as the AWS SDKs for Java and Go do over TLS. SigV4 would
 * otherwise hash every part before sending it, a second pass over each part that cost ~10% of the ingest
 * step's profile; the signature still covers the method, key, query, every signed header and the date, and the
 * body stays checked end to end by what the client sends with it: against AWS, the SDK's CRC32 of each part
 * (`x-amz-checksum-crc32`, itself signed), which S3 verifies before it stores the part (docs/performance.md).
 * Over plain HTTP to anywhere else the payload is still hashed and signed, since nothing else guards it there.
 * A body the SDK already framed (aws-chunked, `STREAMING-…`) keeps its own value.
 */
export function signObjectBodiesUnhashed(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as HttpRequestLike;
      if (
        OBJECT_BODIES.has(context.commandName ?? "") &&
        request.headers !== undefined &&
        !Object.keys(request.headers).some((name) => name.toLowerCase() === CONTENT_SHA256) &&
        transportProtects(request)
      ) {
        request.headers[CONTENT_SHA256] = "UNSIGNED-PAYLOAD";
      }
      return next(args);
    },
    // After the flexible-checksums middleware (build step) has added the CRC32 header, before signing.
    { step: "build", priority: "low", name: "roadtollUnsignedObjectBodies" },
  );
}

interface HttpRequestLike {
  protocol?: string;
  hostname?: string;
  headers?: Record<string, string>;
}

/** TLS, or an address that never leaves this machine. */
export function transportProtects(request: {
  protocol?: string | undefined;
  hostname?: string | undefined;
}): boolean {
  return request.protocol === "https:" || isLoopbackHost(request.hostname);
}
