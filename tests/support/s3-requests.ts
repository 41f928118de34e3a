import { randomBytes } from "node:crypto";
import type { Agent, IncomingMessage, Server, ServerResponse } from "node:http";

/** The S3 call a request is, told from its method, query and headers as S3's REST API defines them. */
export type S3Operation =
  | "CreateMultipartUpload"
  | "UploadPart"
  | "CompleteMultipartUpload"
  | "AbortMultipartUpload"
  | "ListParts"
  | "PutObject"
  | "CopyObject"
  | "GetObject"
  | "HeadObject"
  | "DeleteObject"
  | "ListObjects"
  | "ListMultipartUploads"
  | "HeadBucket"
  | "CreateBucket"
  | "Other";

export interface S3Request {
  operation: S3Operation;
  bucket: string;
  /** The object key, decoded; empty for a bucket-level call. */
  key: string;
  query: URLSearchParams;
  /** Whether the bucket was named in the host (`bucket.s3.region.amazonaws.com`) rather than the path. */
  virtualHosted: boolean;
}

/**
 * Reads a request in either addressing style: path-style (`/bucket/key`, what the tests' clients send) or
 * virtual-hosted (`bucket.s3.<region>.amazonaws.com/key`, what a client with no endpoint signs, presigned URLs
 * included).
 */
export function parseS3Request(incoming: IncomingMessage): S3Request {
  const url = new URL(incoming.url ?? "/", "http://front");
  const host = (incoming.headers.host ?? "").replace(/:\d+$/, "");
  const hosted = /^(.+)\.s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com$/.exec(host);
  const segments = url.pathname.split("/").slice(1);
  const bucket = hosted ? (hosted[1] as string) : decodeURIComponent(segments.shift() ?? "");
  const key = segments.map(decodeURIComponent).join("/");
  const query = url.searchParams;
  const has = (name: string) => query.has(name);
  const method = incoming.method ?? "GET";
  let operation: S3Operation = "Other";
  if (key === "") {
    if (method === "GET" && has("uploads")) operation = "ListMultipartUploads";
    else if (method === "GET" && [...query.keys()].every((name) => LIST_PARAMETERS.has(name))) {
      operation = "ListObjects";
    } else if (method === "HEAD") operation = "HeadBucket";
    else if (method === "PUT" && [...query.keys()].length === 0) operation = "CreateBucket";
  } else if (method === "POST" && has("uploads")) operation = "CreateMultipartUpload";
  else if (method === "POST" && has("uploadId")) operation = "CompleteMultipartUpload";
  else if (method === "PUT" && has("uploadId") && has("partNumber")) operation = "UploadPart";
  else if (method === "DELETE" && has("uploadId")) operation = "AbortMultipartUpload";
  else if (method === "GET" && has("uploadId")) operation = "ListParts";
  else if (method === "PUT" && incoming.headers["x-amz-copy-source"]) operation = "CopyObject";
  else if (method === "PUT" && !hasSubresource(query)) operation = "PutObject";
  else if (method === "GET" && !hasSubresource(query)) operation = "GetObject";
  else if (method === "HEAD") operation = "HeadObject";
  else if (method === "DELETE" && !hasSubresource(query)) operation = "DeleteObject";
  return { operation, bucket, key, query, virtualHosted: Boolean(hosted) };
}

const LIST_PARAMETERS = new Set([
  "list-type",
  "prefix",
  "delimiter",
  "max-keys",
  "continuation-token",
  "start-after",
  "marker",
  "encoding-type",
  "fetch-owner",
  "x-id",
]);

/** `?tagging`, `?acl` and the like name another API on the same path; a presigned URL's `X-Amz-*` do not. */
function hasSubresource(query: URLSearchParams): boolean {
  return [...query.keys()].some((name) => !/^x-amz-|^x-id$|^response-|^versionId$|^partNumber$/i.test(name));
}

/** S3's XML error answer (no body for HEAD, as S3 does). */
export function answerS3Error(
  outgoing: ServerResponse,
  status: number,
  code: string,
  message: string,
  resource: string,
  head = false,
): void {
  const requestId = randomBytes(8).toString("hex").toUpperCase();
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>` +
    `<Resource>${escapeXml(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`;
  outgoing.writeHead(status, {
    "content-type": "application/xml",
    "x-amz-request-id": requestId,
    ...(head ? {} : { "content-length": Buffer.byteLength(body) }),
  });
  outgoing.end(head ? undefined : body);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** Stops a front: its connections at once (a stalled one included), then its upstream keep-alive sockets. */
export function closeFront(server: Server, agent: Agent): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => {
      agent.destroy();
      resolve();
    });
  });
}
