import { type DeathsDeps, type DeathsResult, runDeathsStep } from "../pipeline/deaths-step.js";
import { deathsEventSchema, parseEvent } from "./schemas.js";

export type DeathsHandler = (event: unknown) => Promise<DeathsResult>;

/** The deaths Lambda's handler, bound to its adapters; the Lambda, the local runner and the tests all use it. */
export function createDeathsHandler(deps: DeathsDeps): DeathsHandler {
  return async (event) => runDeathsStep(parseEvent(deathsEventSchema, event, "deaths"), deps);
}
