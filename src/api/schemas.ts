import * as z from "zod";
import { pipelineInputSchema, sourceName } from "../contracts/events.js";
import { runStatusSchema } from "../contracts/executions.js";

/**
 * The HTTP API's requests and responses. The handlers validate with these, and the OpenAPI document
 * (openapi.ts) is generated from them, so the two cannot drift apart.
 */

/** A CSV's file name as the uploader has it: no folder, no control character, `.csv` or `.csv.gz`. */
const fileName = z
  .string()
  .min(5)
  .max(200)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused here.
  .regex(/^[^/\\\u0000-\u001f\u007f]+$/, "a file name, without folders or control characters")
  .regex(/\.csv(\.gz)?$/i, "must end in .csv or .csv.gz");

export const uploadRequestSchema = z
  .strictObject({
    name: fileName.meta({ description: "The file's name, e.g. VIA_SUL.csv (.csv or .csv.gz)." }),
    source: sourceName.optional().meta({
      description: "The source the file feeds (letters, digits, _ and -); default: the file name.",
    }),
    // Required: a presigned PUT is bounded only by a signed Content-Length (S3 takes up to 5 GB in one PUT), and
    // whoever uploads knows the file's size.
    bytes: z.number().int().min(1).meta({
      description:
        "The file's exact size in bytes. The URL is signed for that Content-Length: S3 refuses any other.",
    }),
  })
  .meta({ id: "UploadRequest" });

export const uploadResponseSchema = z
  .strictObject({
    key: z.string().meta({ description: "Where the file goes: landing/<source>/<upload>-<name>." }),
    uploadUrl: z.url().meta({ description: "Presigned S3 URL: PUT the file's bytes to it, as they are." }),
    method: z.literal("PUT"),
    source: sourceName,
    expiresAt: z.iso.datetime().meta({ description: "The URL does not work after this." }),
    maxBytes: z
      .number()
      .int()
      .meta({ description: "The largest file a run reads; larger ones fail the run." }),
  })
  .meta({ id: "Upload" });

export const startRunRequestSchema = pipelineInputSchema.meta({
  id: "StartRun",
  description:
    'The state machine\'s input: {"links": [...]} (a link from link.yml by source, a URL, or an object under landing/), or {"all": true}.',
});

export const startRunResponseSchema = z.strictObject({ id: z.string() }).meta({ id: "RunStarted" });

export const runIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,80}$/, "a run id is letters, digits, _ and - (at most 80)");

export const runSchema = z
  .strictObject({
    id: z.string(),
    status: runStatusSchema,
    startedAt: z.iso.datetime(),
    stoppedAt: z.iso.datetime().optional(),
    output: z.unknown().optional().meta({
      description: "A finished run's output: each link's status and counts, and where its full summary is.",
    }),
    error: z
      .strictObject({ error: z.string(), cause: z.string() })
      .optional()
      .meta({ description: "Why a run failed: the error's stable name and its cause." }),
  })
  .meta({ id: "Run" });

export const runListQuerySchema = z.strictObject({
  source: sourceName,
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export const runListSchema = z
  .strictObject({
    runs: z.array(
      z.strictObject({
        id: z.string(),
        source: sourceName,
        status: runStatusSchema,
        startedAt: z.iso.datetime(),
        stoppedAt: z.iso.datetime().optional(),
      }),
    ),
  })
  .meta({ id: "RunList" });

/** Every error: a stable code to match on, and a message for people. Never a stack trace. */
export const errorSchema = z
  .strictObject({ error: z.strictObject({ code: z.string(), message: z.string() }) })
  .meta({ id: "Error" });

export type UploadRequest = z.infer<typeof uploadRequestSchema>;
export type UploadResponse = z.infer<typeof uploadResponseSchema>;
export type Run = z.infer<typeof runSchema>;
export type RunList = z.infer<typeof runListSchema>;
