import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ExecutionDescription, ExecutionInput, Executions } from "../api/executions.js";
import { RoadtollError } from "../errors.js";
import type { ExecutionOutcome } from "./state-machine.js";

/** The ARN a local execution gets, shaped like Step Functions' (the functions log it as the correlation id). */
export const localExecutionArn = (id: string): string =>
  `arn:aws:states:us-east-1:123456789012:execution:roadtoll-local:${id}`;

export interface LocalExecutionsOptions {
  /** Runs the state machine on this input (local/state-machine.ts, the Task states bound to the handlers). */
  run(input: ExecutionInput, executionArn: string): Promise<ExecutionOutcome>;
  /** Where each execution's description is kept, so that runs are still found after a restart. */
  directory: string;
  now?: () => Date;
}

/**
 * Executions on this machine, for `roadtoll serve`: what Step Functions is to the API in AWS. An execution runs
 * in the background from `start`; its description (status, times, output or error) is kept in memory and in
 * `directory`, one JSON file per execution, written whole and renamed into place.
 */
export class LocalExecutions implements Executions {
  private readonly running = new Map<string, Promise<void>>();
  private readonly now: () => Date;

  constructor(private readonly options: LocalExecutionsOptions) {
    this.now = options.now ?? (() => new Date());
  }

  async start(id: string, input: ExecutionInput): Promise<void> {
    if (this.running.has(id) || (await this.describe(id))) {
      throw new RoadtollError("InvalidEventError", `an execution named ${id} exists already`);
    }
    const started: ExecutionDescription = { id, status: "RUNNING", startedAt: this.now().toISOString() };
    await this.save(started);
    const done = this.options
      .run(input, localExecutionArn(id))
      .then(
        (outcome): ExecutionDescription =>
          outcome.status === "SUCCEEDED"
            ? { ...started, status: "SUCCEEDED", stoppedAt: this.now().toISOString(), output: outcome.output }
            : {
                ...started,
                status: "FAILED",
                stoppedAt: this.now().toISOString(),
                error: { error: outcome.error, cause: outcome.cause },
              },
        // The runner itself failed (not a state): the execution failed, as Step Functions would report it.
        (error: unknown): ExecutionDescription => ({
          ...started,
          status: "FAILED",
          stoppedAt: this.now().toISOString(),
          error: {
            error: error instanceof Error ? error.name : "Error",
            cause: error instanceof Error ? error.message : String(error),
          },
        }),
      )
      .then((finished) => this.save(finished))
      .finally(() => this.running.delete(id));
    this.running.set(id, done);
  }

  async describe(id: string): Promise<ExecutionDescription | undefined> {
    try {
      return JSON.parse(await readFile(this.file(id), "utf8")) as ExecutionDescription;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  /** Resolves once no execution is running (those started meanwhile included). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /** Executions still running. */
  get active(): number {
    return this.running.size;
  }

  private file(id: string): string {
    // The API checks ids too; a file name must never be built from anything else.
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(id))
      throw new RoadtollError("InvalidEventError", `not a run id: ${id}`);
    return join(this.options.directory, `${id}.json`);
  }

  private async save(description: ExecutionDescription): Promise<void> {
    await mkdir(this.options.directory, { recursive: true });
    const temporary = `${this.file(description.id)}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(description, null, 2)}\n`);
    await rename(temporary, this.file(description.id));
  }
}
