import { type IngestDeps, type IngestResult, ingestLink } from "../pipeline/ingest-link.js";
import { parseIngestEvent } from "./schemas.js";

export type IngestHandler = (event: unknown) => Promise<IngestResult>;

/**
 * The ingest Lambda's handler, bound to its adapters; the Lambda, the local runner and the tests all use it. It
 * takes a bare link or the state machine's `{link, execution}`; the execution is handed back in the result, so
 * the deaths step gets it too.
 */
export function createIngestHandler(deps: IngestDeps): IngestHandler {
  return async (event) => {
    const { link, execution } = parseIngestEvent(event);
    return ingestLink(link, deps, { execution });
  };
}
