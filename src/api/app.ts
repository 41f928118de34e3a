import { randomBytes, randomUUID } from "node:crypto";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import type { ObjectStore } from "../adapters/object-store.js";
import type { Executions } from "../contracts/executions.js";
import { isRoadtollError } from "../errors.js";
import { mapLimited } from "../map-limited.js";
import { LANDING_PREFIX, sourceFromKey } from "../pipeline/keys.js";
import { listRunsOfSource } from "../pipeline/run-index.js";
import { describeIssues } from "../zod-issues.js";
import { HttpError } from "./http-error.js";
import {
  createUploadRoute,
  getRunRoute,
  listRunsRoute,
  OPENAPI_INFO,
  SIGV4_SECURITY_SCHEME,
  startRunRoute,
} from "./routes.js";
import { type RunList, runSchema, type UploadResponse } from "./schemas.js";

export interface ApiDeps {
  executions: Executions;
  /** The pipeline's bucket: uploads are signed into its landing/, runs listed from its run index. */
  store: ObjectStore;
  uploadUrlTtlSeconds: number;
  uploadMaxBytes: number;
  now?: () => Date;
  /** Told of every 5xx's error (the caller logs it); the response itself says nothing of it. */
  onError?: (error: unknown) => void;
  /** Runs ahead of every route: `roadtoll serve` refuses what a browser could forge with it (local/). */
  guard?: MiddlewareHandler;
}

export type ApiApp = OpenAPIHono;

/** Larger than any request this API takes (1,000 links of 2 KB would not fit, and need not). */
export const MAX_BODY_BYTES = 256 * 1024;

const JSON_MEDIA_TYPE = /^application\/json\s*(;|$)/i;

/**
 * The HTTP API: upload a CSV into landing/ (which starts a run), start a run, follow runs. One Hono app over the
 * Executions port and the bucket, served by the API Lambda (hono/aws-lambda) and by `roadtoll serve`
 * (@hono/node-server) alike. Errors are JSON with a stable code (`{"error": {"code", "message"}}`), never a stack
 * trace.
 */
export function createApiApp(deps: ApiDeps): ApiApp {
  const now = deps.now ?? (() => new Date());
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (result.success) return;
      const where = result.target === "json" ? "body" : result.target === "param" ? "path" : result.target;
      return problem(
        c,
        new HttpError(400, "InvalidRequest", describeIssues(result.error, where, { qualify: true })),
      );
    },
  });

  if (deps.guard) app.use(deps.guard);
  app.use(async (c, next) => {
    await next();
    c.header("cache-control", "no-store");
  });
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        problem(
          c,
          new HttpError(405, "MethodNotAllowed", `${c.req.method} ${c.req.path}: use ${methods.join(", ")}`),
          { allow: methods.join(", ") },
        ),
    }),
  );
  for (const path of ["/uploads", "/runs"]) app.use(path, jsonBody);

  app.openapi(createUploadRoute, async (c) => {
    const body = c.req.valid("json");
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
    return c.json(response, 201);
  });

  app.openapi(startRunRoute, async (c) => {
    const id = randomUUID();
    await deps.executions.start(id, c.req.valid("json"));
    return c.json({ id }, 202, { location: `/runs/${id}` });
  });

  app.openapi(listRunsRoute, async (c) => {
    const query = c.req.valid("query");
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
    return c.json({ runs }, 200);
  });

  app.openapi(getRunRoute, async (c) => {
    const { id } = c.req.valid("param");
    const execution = await deps.executions.describe(id);
    if (!execution) throw new HttpError(404, "RunNotFound", `no run ${JSON.stringify(id)}`);
    return c.json(runSchema.parse(execution), 200);
  });

  app.openAPIRegistry.registerComponent("securitySchemes", "sigv4", SIGV4_SECURITY_SCHEME);
  app.doc31("/openapi.json", OPENAPI_INFO);

  // OPTIONS says what a path takes; no CORS headers: nothing on another origin is meant to call this API.
  const allowed = new Map<string, Set<string>>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue;
    const methods = allowed.get(route.path) ?? new Set();
    methods.add(route.method);
    if (route.method === "GET") methods.add("HEAD");
    allowed.set(route.path, methods);
  }
  for (const [path, methods] of allowed) {
    const allow = [...methods, "OPTIONS"].join(", ");
    app.options(path, (c) => c.body(null, 204, { allow }));
  }

  app.notFound((c) => problem(c, new HttpError(404, "NotFound", `no such path: ${c.req.path}`)));
  app.onError((error, c) => {
    const answer = toHttpError(error);
    if (answer.status >= 500) deps.onError?.(error);
    return problem(c, answer, answer.status === 503 ? { "retry-after": "5" } : {});
  });
  return app;
}

/** The OpenAPI document of the API, as GET /openapi.json serves it. */
export function openApiDocument(app: ApiApp): unknown {
  const document = app.getOpenAPI31Document(OPENAPI_INFO);
  return JSON.parse(JSON.stringify(document));
}

function problem(c: Context, error: HttpError, headers: Record<string, string> = {}): Response {
  return c.json({ error: { code: error.code, message: error.message } }, error.status as 400, headers);
}

/**
 * A POST's body, checked before the route's schema sees it: JSON by its Content-Type (a browser's cross-site
 * "simple" request cannot send that without a preflight), at most MAX_BODY_BYTES, present and parseable.
 */
const jsonBody: MiddlewareHandler = async (c, next) => {
  if (c.req.method !== "POST") return next();
  const type = c.req.header("content-type") ?? "";
  if (!JSON_MEDIA_TYPE.test(type)) {
    throw new HttpError(
      415,
      "UnsupportedMediaType",
      `the body must be application/json, not ${type === "" ? "untyped" : JSON.stringify(type.slice(0, 100))}`,
    );
  }
  return limitBody(c, async () => {
    const text = await c.req.text();
    if (text.trim() === "") throw new HttpError(400, "InvalidRequest", "the request needs a JSON body");
    try {
      JSON.parse(text);
    } catch (error) {
      throw new HttpError(400, "InvalidJson", `the body is not JSON: ${(error as Error).message}`);
    }
    await next();
  });
};

const limitBody = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new HttpError(413, "PayloadTooLarge", `the body is over ${MAX_BODY_BYTES} bytes`);
  },
});

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof HTTPException) {
    const code = { 400: "InvalidRequest", 413: "PayloadTooLarge", 415: "UnsupportedMediaType" }[
      error.status as number
    ];
    if (code) return new HttpError(error.status, code, error.message || code);
  }
  if (isRoadtollError(error, "InvalidEventError")) return new HttpError(400, "InvalidRequest", error.message);
  if (isRoadtollError(error, "RunNotFoundError")) return new HttpError(404, "RunNotFound", error.message);
  if (isRoadtollError(error, "ExecutionServiceError") || isRoadtollError(error, "StorageError")) {
    // Throttling or an outage of Step Functions or S3: worth trying again, so not a 500.
    return new HttpError(503, "ServiceUnavailable", "the service is busy or unavailable: try again shortly");
  }
  return new HttpError(500, "InternalError", "internal error");
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
