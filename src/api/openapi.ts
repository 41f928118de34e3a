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

type JsonSchema = Record<string, unknown>;

/**
 * The API's OpenAPI 3.1 document, generated from the zod schemas the handlers validate with (OpenAPI 3.1 schemas
 * are JSON Schema 2020-12, what zod emits). Served at GET /openapi.json and kept in docs/openapi.json, which a
 * test regenerates and compares.
 */
export function buildOpenApiDocument(): Record<string, unknown> {
  const components: Record<string, JsonSchema> = {};
  /**
   * zod puts a schema that has an id (`.meta({id})`) under `$defs` and refers to it there; in OpenAPI it belongs
   * in components. A request reads a schema's input form, a reply its output form.
   */
  const ref = (schema: z.ZodType, io: "input" | "output"): JsonSchema => {
    const { $defs, ...json } = toSchema(schema, io) as JsonSchema & { $defs?: Record<string, JsonSchema> };
    for (const [name, definition] of Object.entries($defs ?? {})) components[name] = definition;
    return json;
  };
  const json = (schema: z.ZodType, io: "input" | "output") => ({
    "application/json": { schema: ref(schema, io) },
  });
  const errors = (...statuses: number[]) =>
    Object.fromEntries(
      statuses.map((status) => [
        String(status),
        { description: ERROR_DESCRIPTIONS[status] ?? "Error", content: json(errorSchema, "output") },
      ]),
    );
  const query = toSchema(runListQuerySchema, "input") as { properties: Record<string, JsonSchema> };

  const paths = {
    "/uploads": {
      post: {
        operationId: "createUpload",
        summary: "A presigned URL to PUT a CSV into landing/, which starts a run of its source",
        requestBody: { required: true, content: json(uploadRequestSchema, "input") },
        responses: {
          "201": { description: "Upload URL issued", content: json(uploadResponseSchema, "output") },
          ...errors(400, 413, 503),
        },
      },
    },
    "/runs": {
      post: {
        operationId: "startRun",
        summary: "Start a run of the pipeline (the state machine's input)",
        requestBody: { required: true, content: json(startRunRequestSchema, "input") },
        responses: {
          "202": {
            description: "Run started",
            headers: { Location: { schema: { type: "string" }, description: "The run's URL" } },
            content: json(startRunResponseSchema, "output"),
          },
          ...errors(400, 413, 503),
        },
      },
      get: {
        operationId: "listRuns",
        summary: "The runs that read a source, newest first (uploads and schedules included)",
        parameters: Object.entries(query.properties).map(([name, schema]) => ({
          name,
          in: "query",
          required: name === "source",
          schema,
        })),
        responses: {
          "200": { description: "Runs", content: json(runListSchema, "output") },
          ...errors(400, 503),
        },
      },
    },
    "/runs/{id}": {
      get: {
        operationId: "getRun",
        summary: "One run: its status, and its output or error once it stopped",
        parameters: [{ name: "id", in: "path", required: true, schema: toSchema(runIdSchema, "input") }],
        responses: {
          "200": { description: "The run", content: json(runSchema, "output") },
          ...errors(400, 404, 503),
        },
      },
    },
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "roadtoll",
      version: "1",
      description:
        'Start and follow runs of the roadtoll pipeline. In AWS every request is signed (IAM, SigV4) unless the stack was deployed with a JWT issuer. Errors are JSON: {"error": {"code", "message"}}.',
    },
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        sigv4: {
          type: "apiKey",
          name: "Authorization",
          in: "header",
          description:
            "AWS Signature Version 4 (IAM authorization), e.g. curl --aws-sigv4 aws:amz:REGION:execute-api",
        },
      },
    },
    security: [{ sigv4: [] }],
  };
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Invalid request (code InvalidRequest or InvalidJson)",
  404: "No such run (code RunNotFound)",
  413: "Too large (code PayloadTooLarge or UploadTooLarge)",
  503: "Step Functions or S3 busy or unavailable: try again (code ServiceUnavailable)",
};

function toSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const json = z.toJSONSchema(schema, { io, unrepresentable: "any", reused: "inline" }) as JsonSchema;
  // Each schema is embedded in the document, which states the dialect once.
  delete json.$schema;
  return JSON.parse(JSON.stringify(json).replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonSchema;
}
