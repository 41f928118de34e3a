import type { IngestEvent, PipelineInput } from "../handlers/schemas.js";
import type { RunStatus } from "./schemas.js";

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
