import { createHash } from "node:crypto";
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { crc32 } from "node:zlib";
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { answerS3Error, closeFront, parseS3Request, type S3Request } from "./s3-requests.js";
import { ACCOUNT_ID, type FunctionRole } from "./template-roles.js";

/**
 * An HTTP front on 127.0.0.1 for an S3-compatible server (s3rver or moto_server), which answers as Amazon S3 would
 * for one function's role as template.yaml declares it. Neither emulator checks a policy, and both answer 404 for
 * a missing key whoever asks; S3 does neither. Here:
 * - every request is mapped to the IAM action S3 authorizes it as (the S3 API reference's "Permissions" sections:
 *   HeadObject and GetObject are s3:GetObject; CreateMultipartUpload, UploadPart and CompleteMultipartUpload are
 *   s3:PutObject; HeadBucket and ListObjectsV2 are s3:ListBucket, with `s3:prefix` from the query) and its
 *   resource ARN, and evaluated with an IAM policy evaluator against the role's policies and the bucket policy,
 *   over TLS as in AWS (`aws:SecureTransport`); a request the role may not make gets 403 AccessDenied;
 * - a GET or HEAD of a missing key gets 403 AccessDenied unless the role has s3:ListBucket on the bucket (S3
 *   GetObject reference: "If you don't have the s3:ListBucket permission, Amazon S3 returns an HTTP status code
 *   403"), evaluated with no `s3:prefix`, since the request names none;
 * - a PUT's signed checksums (`x-amz-checksum-*` and `Content-MD5`, in headers or a presigned URL's query) and
 *   its `x-amz-content-sha256` must match the body it carries, else 400 BadDigest or XAmzContentSHA256Mismatch.
 * A request it cannot classify is refused rather than passed: what the front does not know, it does not allow.
 */
export interface StrictS3 {
  /** Point the role's S3 client here. */
  endpoint: string;
  role: FunctionRole;
  /** Every request refused, in order: what the role asked for and why S3 would say no. */
  readonly refused: readonly RefusedRequest[];
  close(): Promise<void>;
}

export interface RefusedRequest {
  operation: S3Request["operation"];
  key: string;
  status: number;
  code: string;
  message: string;
}

interface Authorization {
  action: string;
  resource: string;
  context?: Record<string, string>;
}

export async function startStrictS3(upstream: string, role: FunctionRole): Promise<StrictS3> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  const refused: RefusedRequest[] = [];
  const decisions = new Map<string, Promise<boolean>>();

  const allowed = (check: Authorization): Promise<boolean> => {
    const context = { "aws:SecureTransport": "true", ...check.context };
    const memo = JSON.stringify([check.action, check.resource, context]);
    let decision = decisions.get(memo);
    if (!decision) {
      decision = evaluate(role, check.action, check.resource, context);
      decisions.set(memo, decision);
    }
    return decision;
  };

  const refuse = (
    outgoing: ServerResponse,
    parsed: S3Request,
    head: boolean,
    status: number,
    code: string,
    message: string,
  ) => {
    refused.push({ operation: parsed.operation, key: parsed.key, status, code, message });
    answerS3Error(outgoing, status, code, message, `/${parsed.bucket}/${parsed.key}`, head);
  };

  const denial = (check: Authorization) =>
    `User: ${role.principal} is not authorized to perform: ${check.action} on resource: "${check.resource}" ` +
    `because no identity-based policy allows the ${check.action} action`;

  const server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", () => {
      handle(incoming, outgoing, Buffer.concat(chunks)).catch((error: unknown) => {
        if (!outgoing.headersSent) {
          answerS3Error(
            outgoing,
            500,
            "InternalError",
            `strict S3 front: ${String(error)}`,
            incoming.url ?? "/",
          );
        } else outgoing.destroy();
      });
    });
  });

  async function handle(incoming: IncomingMessage, outgoing: ServerResponse, body: Buffer): Promise<void> {
    const parsed = parseS3Request(incoming);
    const head = incoming.method === "HEAD";
    const checks = authorizations(parsed, incoming);
    if (!checks) {
      refuse(
        outgoing,
        parsed,
        head,
        403,
        "AccessDenied",
        `strict S3 front: ${incoming.method} ${incoming.url} is no S3 call it knows, so it is not allowed`,
      );
      return;
    }
    for (const check of checks) {
      if (!(await allowed(check))) {
        refuse(outgoing, parsed, head, 403, "AccessDenied", denial(check));
        return;
      }
    }
    if (parsed.operation === "PutObject" || parsed.operation === "UploadPart") {
      const mismatch = checksumMismatch(incoming, parsed.query, body);
      if (mismatch) {
        refuse(outgoing, parsed, head, mismatch.status, mismatch.code, mismatch.message);
        return;
      }
    }
    const answer = await forward(incoming, parsed, body);
    const reading = parsed.operation === "GetObject" || parsed.operation === "HeadObject";
    if (reading && answer.statusCode === 404) {
      const list: Authorization = { action: "s3:ListBucket", resource: `arn:aws:s3:::${parsed.bucket}` };
      if (!(await allowed(list))) {
        answer.resume();
        refuse(outgoing, parsed, head, 403, "AccessDenied", denial(list));
        return;
      }
    }
    outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(outgoing);
  }

  function forward(incoming: IncomingMessage, parsed: S3Request, body: Buffer): Promise<IncomingMessage> {
    const headers = { ...incoming.headers };
    delete headers.expect;
    delete headers["transfer-encoding"];
    headers["content-length"] = String(body.length);
    let path = incoming.url ?? "/";
    if (parsed.virtualHosted) {
      // The emulators are addressed path-style; neither checks the signature this rewrite breaks.
      path = `/${parsed.bucket}${path.startsWith("/") ? path : `/${path}`}`;
      headers.host = target.host;
    }
    return new Promise((resolve, reject) => {
      const toUpstream = request(
        { host: target.hostname, port: target.port, method: incoming.method, path, headers, agent },
        resolve,
      );
      toUpstream.on("error", reject);
      toUpstream.end(body);
    });
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    role,
    get refused() {
      return refused;
    },
    close: () => closeFront(server, agent),
  };
}

/** What S3 authorizes a call as; undefined for a call this front does not know. */
function authorizations(parsed: S3Request, incoming: IncomingMessage): Authorization[] | undefined {
  const bucketArn = `arn:aws:s3:::${parsed.bucket}`;
  const objectArn = `${bucketArn}/${parsed.key}`;
  switch (parsed.operation) {
    case "GetObject":
    case "HeadObject":
      return [{ action: "s3:GetObject", resource: objectArn }];
    case "PutObject":
    case "CreateMultipartUpload":
    case "UploadPart":
    case "CompleteMultipartUpload":
      return [{ action: "s3:PutObject", resource: objectArn }];
    case "CopyObject": {
      const source = decodeURIComponent(String(incoming.headers["x-amz-copy-source"])).replace(/^\//, "");
      return [
        { action: "s3:PutObject", resource: objectArn },
        { action: "s3:GetObject", resource: `arn:aws:s3:::${source.split("?")[0]}` },
      ];
    }
    case "AbortMultipartUpload":
      return [{ action: "s3:AbortMultipartUpload", resource: objectArn }];
    case "ListParts":
      return [{ action: "s3:ListMultipartUploadParts", resource: objectArn }];
    case "DeleteObject":
      return [{ action: "s3:DeleteObject", resource: objectArn }];
    case "ListObjects": {
      const context: Record<string, string> = {};
      for (const [parameter, key] of [
        ["prefix", "s3:prefix"],
        ["delimiter", "s3:delimiter"],
        ["max-keys", "s3:max-keys"],
      ] as const) {
        const value = parsed.query.get(parameter);
        if (value !== null) context[key] = value;
      }
      return [{ action: "s3:ListBucket", resource: bucketArn, context }];
    }
    case "ListMultipartUploads":
      return [{ action: "s3:ListBucketMultipartUploads", resource: bucketArn }];
    case "HeadBucket":
      return [{ action: "s3:ListBucket", resource: bucketArn }];
    case "CreateBucket":
      return [{ action: "s3:CreateBucket", resource: bucketArn }];
    default:
      return undefined;
  }
}

async function evaluate(
  role: FunctionRole,
  action: string,
  resource: string,
  context: Record<string, string>,
): Promise<boolean> {
  const result = await runSimulation(
    {
      identityPolicies: role.identityPolicies.map(({ name, policy }) => ({
        name,
        policy: policy as unknown as Record<string, unknown>,
      })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: role.bucketPolicy as unknown as Record<string, unknown>,
      request: {
        principal: role.principal,
        action,
        resource: { resource, accountId: ACCOUNT_ID },
        contextVariables: context,
      },
    },
    {},
  );
  if (result.resultType === "error") {
    // A policy the evaluator cannot read is a broken template or test, never a refusal to hide behind.
    throw new Error(`IAM evaluation of ${action} on ${resource} failed: ${JSON.stringify(result.errors)}`);
  }
  return result.overallResult === "Allowed";
}

interface Mismatch {
  status: number;
  code: string;
  message: string;
}

const FLEXIBLE_CHECKSUMS: Record<string, { label: string; digest: (body: Buffer) => string }> = {
  crc32: { label: "CRC32", digest: (body) => uint32(crc32(body)) },
  crc32c: { label: "CRC32C", digest: (body) => uint32(crc32c(body)) },
  sha1: { label: "SHA1", digest: (body) => createHash("sha1").update(body).digest("base64") },
  sha256: { label: "SHA256", digest: (body) => createHash("sha256").update(body).digest("base64") },
};

/**
 * What S3 says of a body that does not match what the request signed for it (S3 PutObject/UploadPart references
 * and "Checking object integrity"). A presigned URL carries its `x-amz-*` parameters in the query; S3 reads them
 * as the headers they stand for.
 */
function checksumMismatch(
  incoming: IncomingMessage,
  query: URLSearchParams,
  body: Buffer,
): Mismatch | undefined {
  // Query parameter names are matched without case, as S3 matches header names (X-Amz-Content-Sha256 in a URL).
  const fromQuery = new Map([...query].map(([name, given]) => [name.toLowerCase(), given]));
  const value = (name: string): string | undefined => {
    const header = incoming.headers[name];
    if (typeof header === "string") return header;
    return fromQuery.get(name);
  };
  const contentSha = value("x-amz-content-sha256");
  if (contentSha?.startsWith("STREAMING-")) {
    return {
      status: 501,
      code: "NotImplemented",
      message: "strict S3 front: aws-chunked bodies are not checked here, so they are not accepted",
    };
  }
  if (contentSha && /^[0-9a-f]{64}$/i.test(contentSha)) {
    if (createHash("sha256").update(body).digest("hex") !== contentSha.toLowerCase()) {
      return {
        status: 400,
        code: "XAmzContentSHA256Mismatch",
        message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
      };
    }
  }
  const md5 = value("content-md5");
  if (md5 !== undefined && createHash("md5").update(body).digest("base64") !== md5) {
    return {
      status: 400,
      code: "BadDigest",
      message: "The Content-MD5 you specified did not match what we received.",
    };
  }
  for (const [name, checksum] of Object.entries(FLEXIBLE_CHECKSUMS)) {
    const given = value(`x-amz-checksum-${name}`);
    if (given !== undefined && checksum.digest(body) !== given) {
      return {
        status: 400,
        code: "BadDigest",
        message: `The ${checksum.label} you specified did not match the calculated checksum.`,
      };
    }
  }
  const unknown = Object.keys(incoming.headers)
    .concat([...fromQuery.keys()])
    .find(
      (name) =>
        /^x-amz-checksum-/i.test(name) &&
        !/-type$/i.test(name) &&
        !(name.slice(15).toLowerCase() in FLEXIBLE_CHECKSUMS),
    );
  if (unknown) {
    return {
      status: 501,
      code: "NotImplemented",
      message: `strict S3 front: cannot verify ${unknown}, so it does not accept it`,
    };
  }
  return undefined;
}

function uint32(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString("base64");
}

const CRC32C_TABLE = Uint32Array.from({ length: 256 }, (_, index) => {
  let crc = index;
  for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  return crc >>> 0;
});

/** CRC-32C (Castagnoli), the reflected form S3's CRC32C checksum uses. */
function crc32c(body: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of body) crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
