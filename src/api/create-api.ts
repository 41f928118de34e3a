import { randomBytes, randomUUID } from "node:crypto";
import type * as z from "zod";
import type { ObjectStore } from "../adapters/object-store.js";
import { isRoadtollError } from "../errors.js";
import { mapLimited } from "../map-limited.js";
import { LANDING_PREFIX, sourceFromKey } from "../pipeline/keys.js";
import { listRunsOfSource } from "../pipeline/run-index.js";
import { describeIssues } from "../zod-issues.js";
import type { Executions } from "./executions.js";
import { HttpError } from "./http-error.js";
import { buildOpenApiDocument } from "./openapi.js";
import {
  type RunList,
  runIdSchema,
  runListQuerySchema,
  runSchema,
  startRunRequestSchema,
  type UploadResponse,
  uploadRequestSchema,
} from "./schemas.js";

/** A request, whatever carried it: API Gateway's event (handlers/api-handler.ts) or node:http (local/api-server.ts). */
export interface ApiRequest {
  method: string;
  /** The path, without query string, e.g. `/runs/abc`. */
  path: string;
  query: Readonly<Record<string, string>>;
  /** The body as text (already base64-decoded). */
  body: string | undefined;
}

export interface ApiResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface ApiDeps {
  executions: Executions;
  /** The pipeline's bucket: uploads are signed into its landing/, runs listed from its run index. */
  store: ObjectStore;
  uploadUrlTtlSeconds: number;
  uploadMaxBytes: number;
  now?: () => Date;
  /** Told of every 5xx's error (the handler logs it); the response itself says nothing of it. */
  onError?: (error: unknown) => void;
}

export type Api = (request: ApiRequest) => Promise<ApiResponse>;

/** Larger than any request this API takes (1,000 links of 2 KB would not fit, and need not). */
const MAX_BODY_BYTES = 256 * 1024;

/**
 * The HTTP API: upload a CSV into landing/ (which starts a run), start a run, follow runs. Plain functions over
 * the Executions port and the bucket, so the Lambda and `roadtoll serve` answer alike. Errors are JSON with a
 * stable code (`{"error": {"code", "message"}}`), never a stack trace.
 */
export function createApi(deps: ApiDeps): Api {
  const now = deps.now ?? (() => new Date());
  const routes: Route[] = [
    {
      method: "POST",
      path: /^\/uploads$/,
      async handle(request) {
        const body = parseBody(uploadRequestSchema, request.body);
        if (body.bytes > deps.uploadMaxBytes) {
          throw new HttpError(
            413,
            "UploadTooLarge",
            `bytes: ${body.bytes} is over the ${deps.uploadMaxBytes}-byte limit on a run's file`,
          );
        }
        const name = safeFileName(body.name);
        const source = body.source ?? sourceFromKey(`${LANDING_PREFIX}${name}`);
        const issued = now();
        // One key per upload: two uploads at once never overwrite each other, and each starts its own run.
        const upload = `${issued.toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "")}-${randomBytes(4).toString("hex")}`;
        const key = `${LANDING_PREFIX}${source}/${upload}-${name}`;
        const uploadUrl = await deps.store.presignPut(key, {
          expiresInSeconds: deps.uploadUrlTtlSeconds,
          contentLength: body.bytes,
        });
        const response: UploadResponse = {
          key,
          uploadUrl,
          method: "PUT",
          source,
          expiresAt: new Date(issued.getTime() + deps.uploadUrlTtlSeconds * 1000).toISOString(),
          maxBytes: deps.uploadMaxBytes,
        };
        return { status: 201, body: response };
      },
    },
    {
      method: "POST",
      path: /^\/runs$/,
      async handle(request) {
        const input = parseBody(startRunRequestSchema, request.body);
        const id = randomUUID();
        await deps.executions.start(id, input);
        return { status: 202, body: { id }, headers: { location: `/runs/${id}` } };
      },
    },
    {
      method: "GET",
      path: /^\/runs$/,
      async handle(request) {
        const query = parse(runListQuerySchema, request.query, "query");
        const listed = await listRunsOfSource(deps.store, query.source, query.limit);
        const described = await mapLimited(listed, 5, (run) => deps.executions.describe(run.id));
        const runs: RunList["runs"] = listed.map((run, index) => {
          const execution = described[index];
          return {
            id: run.id,
            source: run.source,
            status: execution?.status ?? "UNKNOWN",
            startedAt: execution?.startedAt ?? run.startedAt,
            ...(execution?.stoppedAt ? { stoppedAt: execution.stoppedAt } : {}),
          };
        });
        return { status: 200, body: { runs } };
      },
    },
    {
      method: "GET",
      path: /^\/runs\/([^/]+)$/,
      async handle(_request, [id = ""]) {
        // Not decoded: a run id has no character that needs escaping, so an escaped one is no id (and a malformed
        // escape cannot throw).
        const runId = parse(runIdSchema, id, "id");
        const execution = await deps.executions.describe(runId);
        if (!execution) throw new HttpError(404, "RunNotFound", `no run ${JSON.stringify(runId)}`);
        return { status: 200, body: runSchema.parse(execution) };
      },
    },
    {
      method: "GET",
      path: /^\/openapi\.json$/,
      async handle() {
        return { status: 200, body: buildOpenApiDocument() };
      },
    },
  ];

  return async (request) => {
    try {
      const matching = routes.flatMap((route) => {
        const match = route.path.exec(request.path);
        return match ? [{ route, params: match.slice(1) }] : [];
      });
      if (matching.length === 0) throw new HttpError(404, "NotFound", `no such path: ${request.path}`);
      const found = matching.find(({ route }) => route.method === request.method);
      if (!found) {
        const allowed = matching.map(({ route }) => route.method).join(", ");
        throw new HttpError(405, "MethodNotAllowed", `${request.method} ${request.path}: use ${allowed}`);
      }
      return await found.route.handle(request, found.params as string[]);
    } catch (error) {
      return errorResponse(error, deps.onError);
    }
  };
}

interface Route {
  method: "GET" | "POST";
  path: RegExp;
  handle(request: ApiRequest, params: string[]): Promise<ApiResponse>;
}

function parseBody<T extends z.ZodType>(schema: T, body: string | undefined): z.output<T> {
  if (body === undefined || body.trim() === "") {
    throw new HttpError(400, "InvalidRequest", "the request needs a JSON body");
  }
  if (Buffer.byteLength(body) > MAX_BODY_BYTES) {
    throw new HttpError(413, "PayloadTooLarge", `the body is over ${MAX_BODY_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    throw new HttpError(400, "InvalidJson", `the body is not JSON: ${(error as Error).message}`);
  }
  return parse(schema, value, "body");
}

function parse<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new HttpError(400, "InvalidRequest", describeIssues(result.error, where, { qualify: true }));
}

/**
 * The file name as a key segment: letters, digits, `.`, `_` and `-` (others become `_`), and a lower-case
 * extension, since the landing rule matches `.csv`, `.csv.gz`, `.CSV` and `.CSV.GZ` only.
 */
function safeFileName(name: string): string {
  const extension = /\.csv\.gz$/i.test(name) ? ".csv.gz" : ".csv";
  const stem = name
    .slice(0, name.length - extension.length)
    .normalize("NFD")
    .replace(/\p{Mn}/gu, "")
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^[._]+/, "");
  return `${stem || "upload"}${extension}`;
}

function errorResponse(error: unknown, onError: ((error: unknown) => void) | undefined): ApiResponse {
  let problem: HttpError;
  if (error instanceof HttpError) problem = error;
  else if (isRoadtollError(error, "InvalidEventError")) {
    problem = new HttpError(400, "InvalidRequest", error.message);
  } else if (isRoadtollError(error, "RunNotFoundError")) {
    problem = new HttpError(404, "RunNotFound", error.message);
  } else if (isRoadtollError(error, "ExecutionServiceError") || isRoadtollError(error, "StorageError")) {
    // Throttling or an outage of Step Functions or S3: worth trying again, so not a 500.
    problem = new HttpError(
      503,
      "ServiceUnavailable",
      "the service is busy or unavailable: try again shortly",
    );
  } else {
    problem = new HttpError(500, "InternalError", "internal error");
  }
  if (problem.status >= 500) onError?.(error);
  return {
    status: problem.status,
    body: { error: { code: problem.code, message: problem.message } },
    ...(problem.status === 503 ? { headers: { "retry-after": "5" } } : {}),
  };
}
