import { type IngestResult, parseIngestEvent } from "../contracts/events.js";
import { type IngestDeps, type IngestOutcome, ingestLink } from "../pipeline/ingest-link.js";
import type { LastRunLookup } from "../pipeline/source-state.js";

export type IngestHandler = (event: unknown) => Promise<IngestResult>;
/** With change detection (`lastRun`), a run may also end as `unchanged`. */
export type ChangeAwareIngestHandler = (event: unknown) => Promise<IngestOutcome>;

/**
 * The ingest Lambda's handler, bound to its adapters; the Lambda, the local runner and the tests all use it. It
 * takes a bare link or the state machine's `{link, execution}`; the execution is handed back in the result, so
 * the deaths step gets it too.
 */
export function createIngestHandler(deps: IngestDeps & { lastRun: LastRunLookup }): ChangeAwareIngestHandler;
export function createIngestHandler(deps: Omit<IngestDeps, "lastRun">): IngestHandler;
export function createIngestHandler(deps: IngestDeps): ChangeAwareIngestHandler {
  return async (event) => {
    const { link, execution, started } = parseIngestEvent(event);
    return ingestLink(link, deps, { execution, started });
  };
}
