import { deathsEventSchema, parseEvent, publishCuratedEventSchema } from "../contracts/events.js";
import { CURATED_REPORT_KEY, publishCurated } from "../pipeline/curated.js";
import { type DeathsDeps, type DeathsResult, runDeathsStep } from "../pipeline/deaths-step.js";

export type DeathsHandler = (event: unknown) => Promise<DeathsResult>;

/**
 * The deaths step's handler (ComputeDeaths), bound to its adapters. The Lambda and the local runner call it through
 * createDeathsFunctionHandler; tests of the step call it directly.
 */
export function createDeathsHandler(deps: DeathsDeps): DeathsHandler {
  return async (event) => runDeathsStep(parseEvent(deathsEventSchema, event, "deaths"), deps);
}

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

export type DeathsFunctionHandler = (event: unknown) => Promise<DeathsResult | CuratedResult>;

/**
 * The deaths Lambda's handler: one function, two tasks, as the ingest function also lists links. An event with a
 * `publishCurated` key is the curated publication (judged by that key alone, for clear errors); any other is an
 * ingest result for the deaths step. The Lambda and the local runner (ComputeDeaths and PublishCurated) use it.
 */
export function createDeathsFunctionHandler(deps: DeathsDeps): DeathsFunctionHandler {
  const deaths = createDeathsHandler(deps);
  const curated = createPublishCuratedHandler(deps);
  return async (event) => (isPublishCuratedEvent(event) ? curated(event) : deaths(event));
}

function isPublishCuratedEvent(event: unknown): boolean {
  return event !== null && typeof event === "object" && Object.hasOwn(event, "publishCurated");
}
