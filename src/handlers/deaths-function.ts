import type { DeathsDeps, DeathsResult } from "../pipeline/deaths-step.js";
import { createDeathsHandler } from "./deaths-handler.js";
import { type CuratedResult, createPublishCuratedHandler } from "./publish-curated-handler.js";

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
