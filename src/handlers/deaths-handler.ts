import { deathsEventSchema, parseEvent } from "../contracts/events.js";
import { type DeathsDeps, type DeathsResult, runDeathsStep } from "../pipeline/deaths-step.js";

export type DeathsHandler = (event: unknown) => Promise<DeathsResult>;

/**
 * The deaths step's handler (ComputeDeaths), bound to its adapters. The Lambda and the local runner call it through
 * createDeathsFunctionHandler; tests of the step call it directly.
 */
export function createDeathsHandler(deps: DeathsDeps): DeathsHandler {
  return async (event) => runDeathsStep(parseEvent(deathsEventSchema, event, "deaths"), deps);
}
