import { type IngestDeps, type IngestResult, ingestLink } from "../pipeline/ingest-link.js";
import { ingestEventSchema, parseEvent } from "./schemas.js";

export type IngestHandler = (event: unknown) => Promise<IngestResult>;

/** The ingest Lambda's handler, bound to its adapters; the Lambda, the local runner and the tests all use it. */
export function createIngestHandler(deps: IngestDeps): IngestHandler {
  return async (event) => ingestLink(parseEvent(ingestEventSchema, event, "ingest"), deps);
}
