import * as z from "zod";
import type { SourceDelimiter } from "../domain/csv-reader.js";
import type { SourceEncoding } from "../domain/encoding.js";
import { RoadtollError } from "../errors.js";
import { describeIssues, unionMessage } from "../zod-issues.js";
import { SOURCE_NAME, SOURCE_NAME_RULE } from "./source-name.js";

export const sourceName = z.string().regex(SOURCE_NAME, `a source is ${SOURCE_NAME_RULE}`);
const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

/**
 * The Step Functions execution an invocation belongs to (`$$.Execution.Id`, an ARN), passed along by the state
 * machine so both steps can log it as their correlation id. Opaque to everything below the handlers.
 */
const executionId = z.string().min(1).max(2048);

/**
 * An object in the pipeline's bucket (what the S3 event rule sends). Only its shape is checked here; whether it
 * may be read at all (the pipeline's own bucket, under landing/) is the ingest step's call (ingest-link.ts).
 */
export const objectRefSchema = z.strictObject({
  object: z.strictObject({ bucket: z.string().min(3).max(63), key: z.string().min(1).max(1024) }),
  source: sourceName.optional(),
});

/** One link, by URL (optionally named) or by its name in link.yml, or an object put into the bucket's landing/. */
export const linkSchema = z.union(
  [
    z.strictObject({ url: httpUrl, source: sourceName.optional() }),
    z.strictObject({ source: sourceName }),
    objectRefSchema,
  ],
  unionMessage(["url", "source", "object"], 'a link is {"url"}, {"source"} or {"object": {"bucket", "key"}}'),
);

/**
 * An execution's input, as the state machine reads it (its NormaliseInput state): a list of links, or every
 * configured link (`{"all": true}`, the schedule's input). At most 1,000 links: far past any real list (ANTT has
 * about 20 concessionaires) and within what the inline Map handles (docs/performance.md).
 */
export const pipelineInputSchema = z.union(
  [
    z.strictObject({ links: z.array(linkSchema).min(1, "at least 1").max(1000, "at most 1000") }),
    z.strictObject({ all: z.literal(true, "must be true") }),
  ],
  unionMessage(["links", "all"], 'needs {"links": [1 to 1000 links]} or {"all": true}'),
);
export type PipelineInput = z.infer<typeof pipelineInputSchema>;

/**
 * What the state machine sends: the link, the execution it belongs to, and when that started (`$$.Execution.
 * StartTime`), with which the run is listed under its source (src/pipeline/run-index.ts).
 */
export const ingestEnvelopeSchema = z.strictObject({
  link: linkSchema,
  execution: executionId.optional(),
  started: z.iso.datetime({ offset: true }).optional(),
});

/** Ingest input: a bare link (a direct invocation), or the state machine's envelope `{link, execution}`. */
export const ingestEventSchema = z.union([linkSchema, ingestEnvelopeSchema]);
export type IngestEvent = z.infer<typeof ingestEventSchema>;
export type IngestRequest = z.infer<typeof ingestEnvelopeSchema>;

/** Either form of ingest event as an envelope. An object with a `link` key is judged as one, for clear errors. */
export function parseIngestEvent(event: unknown): IngestRequest {
  if (event !== null && typeof event === "object" && Object.hasOwn(event, "link")) {
    return parseEvent(ingestEnvelopeSchema, event, "ingest");
  }
  return { link: parseEvent(linkSchema, event, "ingest") };
}

/**
 * The correlation id of an event, for logging: its `execution`, when it has a usable one. The ingest envelope
 * and the deaths event (the ingest result, passed on whole) both carry it at the top; the curated publication
 * under `publishCurated`.
 */
export function executionOf(event: unknown): string | undefined {
  const parsed = z
    .union([
      z.object({ execution: executionId }),
      z.object({ publishCurated: z.object({ execution: executionId }) }).transform((value) => ({
        execution: value.publishCurated.execution,
      })),
    ])
    .safeParse(event);
  return parsed.success ? parsed.data.execution : undefined;
}

/** Deaths input: the ingest step's output. Extra fields are allowed so the ingest result passes through whole. */
export const deathsEventSchema = z.object({
  bucket: z.string().min(3),
  key: z.string().startsWith("clean/"),
  source: sourceName,
  runId: z.string().min(1),
  ingestedAt: z.iso.datetime(),
  /** The source's delimiter; without it a rejected row is shown comma-separated. */
  delimiter: z.enum([";", ",", "\t"] as const satisfies readonly SourceDelimiter[]).optional(),
  /** The execution, when the ingest step was given one: logged as the correlation id. */
  execution: executionId.optional(),
  /** Lineage the ingest step reports, kept in pipeline_runs: the link (redacted), the raw object, the bytes. */
  url: z.string().max(2048).optional(),
  rawKey: z.string().startsWith("raw/").optional(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  bytes: z.number().int().nonnegative().optional(),
  /** The source's validators (response ETag / Last-Modified, or the landing object's ETag): the next run asks with them. */
  etag: z.string().max(1024).optional(),
  lastModified: z.string().max(1024).optional(),
});
export type DeathsEvent = z.infer<typeof deathsEventSchema>;

/**
 * What the ingest step returns when it wrote the file (the state machine hands it to ComputeDeaths whole): the
 * deaths event with its lineage filled in, plus what ingest alone knows. Where the clean object is and what it
 * holds; never the data itself.
 */
export const ingestResultSchema = deathsEventSchema
  .required({ delimiter: true, url: true, rawKey: true, sha256: true, bytes: true })
  .extend({
    /** Always "ingested" when the ingest step made it; the state machine's Choice tells it from "unchanged". */
    status: z.literal("ingested").optional(),
    cleanBytes: z.number().int().nonnegative(),
    rows: z.number().int().nonnegative(),
    encoding: z.enum(["utf-8", "utf-8-bom", "iso-8859-1"] as const satisfies readonly SourceEncoding[]),
  });
export type IngestResult = z.infer<typeof ingestResultSchema>;

/** Compiles only while A is assignable to B. */
type Extends<A extends B, B> = A;
/** What ingest returns is what the deaths step accepts: a change to either that breaks this fails `tsc`. */
export type IngestResultIsDeathsEvent = Extends<IngestResult, z.input<typeof deathsEventSchema>>;

/**
 * The deaths function's second task (the state machine's PublishCurated state, once per execution after every
 * link): rebuild `curated/` from the database. The execution is there for the logs' correlation id only; a direct
 * invocation may send `{"publishCurated": {}}`.
 */
export const publishCuratedEventSchema = z.strictObject({
  publishCurated: z.strictObject({ execution: executionId.optional() }),
});
export type PublishCuratedEvent = z.infer<typeof publishCuratedEventSchema>;

export function parseEvent<T extends z.ZodType>(schema: T, event: unknown, step: string): z.output<T> {
  const result = schema.safeParse(event);
  if (result.success) return result.data;
  throw new RoadtollError(
    "InvalidEventError",
    `invalid ${step} event: ${describeIssues(result.error, "(event)")}`,
    {
      cause: result.error,
    },
  );
}
