import { parseEvent, publishCuratedEventSchema } from "../contracts/events.js";
import { CURATED_REPORT_KEY, publishCurated } from "../pipeline/curated.js";
import type { DeathsDeps } from "../pipeline/deaths-step.js";

/**
 * What PublishCurated returns: the report's key and how many objects were written, never the list of keys, so the
 * execution's payload stays the same size whatever the number of sources.
 */
export interface CuratedResult {
  report: string;
  objects: number;
}

export type PublishCuratedHandler = (event: unknown) => Promise<CuratedResult>;

/** Rebuilds `curated/` (report and figures) from the database: the state machine's PublishCurated task. */
export function createPublishCuratedHandler(
  deps: Pick<DeathsDeps, "store" | "db" | "sampleDigests">,
): PublishCuratedHandler {
  return async (event) => {
    parseEvent(publishCuratedEventSchema, event, "publish-curated");
    const { keys } = await publishCurated(deps.store, deps.db, { sampleDigests: deps.sampleDigests ?? [] });
    return { report: CURATED_REPORT_KEY, objects: keys.length };
  };
}
