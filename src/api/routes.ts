import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import {
  errorSchema,
  runIdSchema,
  runListQuerySchema,
  runListSchema,
  runSchema,
  startRunRequestSchema,
  startRunResponseSchema,
  uploadRequestSchema,
  uploadResponseSchema,
} from "./schemas.js";

/**
 * The API's route table: each route's method, path, request and responses, from which Hono validates requests
 * and the OpenAPI document is generated (GET /openapi.json, docs/openapi.json). app.ts gives each its handler.
 */

const ERROR_DESCRIPTIONS = {
  400: "Invalid request (code InvalidRequest or InvalidJson)",
  404: "No such run (code RunNotFound)",
  413: "Too large (code PayloadTooLarge or UploadTooLarge)",
  415: "The body is not application/json (code UnsupportedMediaType)",
  503: "Step Functions or S3 busy or unavailable: try again (code ServiceUnavailable)",
} as const;

const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

const errors = <S extends keyof typeof ERROR_DESCRIPTIONS>(...statuses: S[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: ERROR_DESCRIPTIONS[status], content: json(errorSchema) },
    ]),
  ) as unknown as Record<S, { description: string; content: ReturnType<typeof json<typeof errorSchema>> }>;

export const createUploadRoute = createRoute({
  method: "post",
  path: "/uploads",
  operationId: "createUpload",
  summary: "A presigned URL to PUT a CSV into landing/, which starts a run of its source",
  request: { body: { required: true, content: json(uploadRequestSchema) } },
  responses: {
    201: { description: "Upload URL issued", content: json(uploadResponseSchema) },
    ...errors(400, 413, 415, 503),
  },
});

export const startRunRoute = createRoute({
  method: "post",
  path: "/runs",
  operationId: "startRun",
  summary: "Start a run of the pipeline (the state machine's input)",
  request: { body: { required: true, content: json(startRunRequestSchema) } },
  responses: {
    202: {
      description: "Run started",
      headers: z.object({ Location: z.string().meta({ description: "The run's URL" }) }),
      content: json(startRunResponseSchema),
    },
    ...errors(400, 413, 415, 503),
  },
});

export const listRunsRoute = createRoute({
  method: "get",
  path: "/runs",
  operationId: "listRuns",
  summary: "The runs that read a source, newest first (uploads and schedules included)",
  request: { query: runListQuerySchema },
  responses: {
    200: { description: "Runs", content: json(runListSchema) },
    ...errors(400, 503),
  },
});

export const getRunRoute = createRoute({
  method: "get",
  path: "/runs/{id}",
  operationId: "getRun",
  summary: "One run: its status, and its output or error once it stopped",
  request: { params: z.object({ id: runIdSchema }) },
  responses: {
    200: { description: "The run", content: json(runSchema) },
    ...errors(400, 404, 503),
  },
});

/** What the OpenAPI document says of the API as a whole. */
export const OPENAPI_INFO = {
  openapi: "3.1.0",
  info: {
    title: "roadtoll",
    version: "1",
    description:
      'Start and follow runs of the roadtoll pipeline. In AWS every request is signed (IAM, SigV4) unless the stack was deployed with a JWT issuer. Errors are JSON: {"error": {"code", "message"}}. A POST\'s body is application/json.',
  },
  security: [{ sigv4: [] }],
};

export const SIGV4_SECURITY_SCHEME = {
  type: "apiKey",
  name: "Authorization",
  in: "header",
  description:
    "AWS Signature Version 4 (IAM authorization), e.g. curl --aws-sigv4 aws:amz:REGION:execute-api",
} as const;
