import * as z from "zod";
import { RoadtollError } from "../errors.js";

const sourceName = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, "a source is letters, digits, _ and -");
const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

/** Ingest input: one link, by URL (optionally named) or by its name in link.yml. */
export const ingestEventSchema = z.union([
  z.strictObject({ url: httpUrl, source: sourceName.optional() }),
  z.strictObject({ source: sourceName }),
]);
export type IngestEvent = z.infer<typeof ingestEventSchema>;

/** Deaths input: the ingest step's output. Extra fields are allowed so the ingest result passes through whole. */
export const deathsEventSchema = z.object({
  bucket: z.string().min(3),
  key: z.string().startsWith("clean/"),
  source: sourceName,
  runId: z.string().min(1),
  ingestedAt: z.iso.datetime(),
  /** The source's delimiter; without it a rejected row is shown comma-separated. */
  delimiter: z.enum([";", ",", "\t"]).optional(),
});
export type DeathsEvent = z.infer<typeof deathsEventSchema>;

export function parseEvent<T extends z.ZodType>(schema: T, event: unknown, step: string): z.output<T> {
  const result = schema.safeParse(event);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.join(".") || "(event)"}: ${issue.message}`,
  );
  throw new RoadtollError("InvalidEventError", `invalid ${step} event: ${problems.join("; ")}`, {
    cause: result.error,
  });
}
