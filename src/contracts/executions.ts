import * as z from "zod";
import type { IngestEvent, PipelineInput } from "./events.js";

/** Step Functions' execution statuses, as they are; UNKNOWN for a run listed whose execution is gone. */
export const runStatusSchema = z
  .enum(["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE", "UNKNOWN"])
  .meta({ id: "RunStatus" });
export type RunStatus = z.infer<typeof runStatusSchema>;

/** What an execution may be started with: what the state machine's NormaliseInput accepts. */
export type ExecutionInput =
  | PipelineInput
  | Extract<IngestEvent, { url: string } | { source: string } | { object: unknown }>;

/** One execution of the state machine, as the API shows it. */
export interface ExecutionDescription {
  id: string;
  status: Exclude<RunStatus, "UNKNOWN">;
  startedAt: string;
  stoppedAt?: string | undefined;
  /** The execution's output (parsed JSON), once it succeeded. */
  output?: unknown;
  /** The execution's error and cause, once it failed. */
  error?: { error: string; cause: string } | undefined;
}

/**
 * Starts and describes executions of the pipeline's state machine: Step Functions in AWS
 * (adapters/step-functions.ts), the local runner on a laptop (local/local-executions.ts). The API handler is
 * the same code over either.
 */
export interface Executions {
  /** Starts an execution named `id` with this input: links, `{"all": true}`, or one link (the landing rule's). */
  start(id: string, input: ExecutionInput): Promise<void>;
  /** The execution named `id`, or undefined when there is none (never started, or expired). */
  describe(id: string): Promise<ExecutionDescription | undefined>;
}
