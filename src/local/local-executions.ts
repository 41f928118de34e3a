import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ExecutionDescription, ExecutionInput, Executions } from "../contracts/executions.js";
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
  /** How many executions run at once; the others wait their turn, in order (default: no limit). */
  concurrency?: number;
  /** Told when an execution waits for a turn, starts running, and stops (its description then has its end). */
  onChange?: (event: "queued" | "started" | "stopped", description: ExecutionDescription) => void;
  now?: () => Date;
}

/**
 * Executions on this machine, for `roadtoll serve` and `roadtoll` itself: what Step Functions is to the API in
 * AWS. An execution runs in the background from `start`, or in the foreground with `run`; its description
 * (status, times, output or error) is kept in `directory`, one JSON file per execution, written whole and renamed
 * into place, so `GET /runs/{id}` finds a run whichever command made it.
 */
export class LocalExecutions implements Executions {
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly now: () => Date;
  private busy = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly options: LocalExecutionsOptions) {
    this.now = options.now ?? (() => new Date());
  }

  async start(id: string, input: ExecutionInput): Promise<void> {
    const started = await this.accept(id);
    const done = this.execute(started, input).finally(() => this.running.delete(id));
    // Nothing awaits a background execution but idle(), which takes its failure (a description not saved) as done.
    done.catch(() => {});
    this.running.set(id, done);
  }

  /** Runs an execution to its end, as `start` does, and gives its outcome (the CLI prints it). */
  async run(id: string, input: ExecutionInput): Promise<ExecutionOutcome> {
    const started = await this.accept(id);
    const done = this.execute(started, input);
    this.running.set(id, done);
    try {
      return await done;
    } finally {
      this.running.delete(id);
    }
  }

  async describe(id: string): Promise<ExecutionDescription | undefined> {
    try {
      return JSON.parse(await readFile(this.file(id), "utf8")) as ExecutionDescription;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  /** Resolves once no execution is running or waiting (those started meanwhile included). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /** Executions running or waiting for a turn. */
  get active(): number {
    return this.running.size;
  }

  private async accept(id: string): Promise<ExecutionDescription> {
    if (this.running.has(id) || (await this.describe(id))) {
      throw new RoadtollError("InvalidEventError", `an execution named ${id} exists already`);
    }
    const started: ExecutionDescription = { id, status: "RUNNING", startedAt: this.now().toISOString() };
    await this.save(started);
    return started;
  }

  private async execute(started: ExecutionDescription, input: ExecutionInput): Promise<ExecutionOutcome> {
    await this.turn(started);
    try {
      this.options.onChange?.("started", started);
      const outcome = await this.options.run(input, localExecutionArn(started.id)).catch(
        // The runner itself failed (not a state): the execution failed, as Step Functions would report it.
        (error: unknown): ExecutionOutcome => ({
          status: "FAILED",
          error: error instanceof Error ? error.name : "Error",
          cause: error instanceof Error ? error.message : String(error),
        }),
      );
      const stopped: ExecutionDescription =
        outcome.status === "SUCCEEDED"
          ? { ...started, status: "SUCCEEDED", stoppedAt: this.now().toISOString(), output: outcome.output }
          : {
              ...started,
              status: "FAILED",
              stoppedAt: this.now().toISOString(),
              error: { error: outcome.error, cause: outcome.cause },
            };
      await this.save(stopped);
      this.options.onChange?.("stopped", stopped);
      return outcome;
    } finally {
      this.release();
    }
  }

  /** Waits until fewer than `concurrency` executions run, in the order they came. */
  private async turn(started: ExecutionDescription): Promise<void> {
    if (this.busy < (this.options.concurrency ?? Number.POSITIVE_INFINITY)) {
      this.busy += 1;
      return;
    }
    this.options.onChange?.("queued", started);
    // The slot is handed over by release(): busy stays as it is.
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy -= 1;
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
