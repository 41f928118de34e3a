import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ExecutionError,
  type RunOptions as LibraryRunOptions,
  StateMachine,
  type StateMachineDefinition,
} from "aws-local-stepfunctions";

export const DEFINITION_PATH = fileURLToPath(
  new URL("../../statemachine/pipeline.asl.json", import.meta.url),
);

/** What SAM substitutes into the definition on deploy; locally they become placeholder ARNs. */
export const LOCAL_SUBSTITUTIONS = {
  IngestFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:roadtoll-ingest",
  DeathsFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:roadtoll-deaths",
} as const;

const PLACEHOLDER = /\$\{([^}]*)\}/g;

/**
 * Replaces `${Name}` placeholders the way CloudFormation's DefinitionSubstitutions does. Unlike CloudFormation
 * it fails on a placeholder without a value and on a value no placeholder uses, since either one means the
 * definition and its substitutions (and so template.yaml) have drifted apart.
 */
export function substitutePlaceholders(
  definition: string,
  substitutions: Readonly<Record<string, string>>,
): string {
  const missing = new Set<string>();
  const used = new Set<string>();
  const result = definition.replace(PLACEHOLDER, (placeholder, name: string) => {
    const value = Object.hasOwn(substitutions, name) ? substitutions[name] : undefined;
    if (value === undefined) {
      missing.add(name);
      return placeholder;
    }
    used.add(name);
    return value;
  });
  if (missing.size > 0) throw new Error(`no substitution for placeholder(s): ${[...missing].join(", ")}`);
  const unused = Object.keys(substitutions).filter((name) => !used.has(name));
  if (unused.length > 0) throw new Error(`substitution(s) not used by the definition: ${unused.join(", ")}`);
  return result;
}

export async function loadDefinition(path = DEFINITION_PATH): Promise<StateMachineDefinition> {
  return JSON.parse(
    substitutePlaceholders(await readFile(path, "utf8"), LOCAL_SUBSTITUTIONS),
  ) as StateMachineDefinition;
}

export type TaskHandler = (input: unknown) => Promise<unknown>;

/**
 * The Task states that invoke the deaths function (`${DeathsFunctionArn}`): a link's deaths step, and the curated
 * publication after every link. In AWS both call the one Lambda, which tells them apart by their event
 * (createDeathsFunctionHandler); locally both are bound to that same handler, by state name.
 */
export const DEATHS_FUNCTION_STATES = ["ComputeDeaths", "PublishCurated"] as const;

/** The deaths function's handler bound to each of its Task states, as template.yaml binds the Lambda's ARN. */
export function deathsFunctionTasks(
  handler: TaskHandler,
): Record<(typeof DEATHS_FUNCTION_STATES)[number], TaskHandler> {
  return { ComputeDeaths: handler, PublishCurated: handler };
}

/** The library types inputs and outputs as JSON values; ours are plain JSON objects, typed where they are made. */
type ExecutionInput = Parameters<StateMachine["run"]>[0];
type LocalHandlers = NonNullable<NonNullable<LibraryRunOptions["overrides"]>["taskResourceLocalHandlers"]>;

export interface ExecutionEvent {
  type: "entered" | "exited" | "failed" | "retried" | "caught";
  state: string;
  /** Map iteration (the link's position in the list), when inside the Map. */
  iteration: number | undefined;
  timestamp: number;
  error?: string;
  cause?: string;
}

/**
 * A state's input as it entered, or its output as it left: what Step Functions limits to 256 KiB per payload. Kept
 * apart from ExecutionEvent, since the execution's input names each link as given (tokens included).
 */
export interface StatePayload {
  type: "entered" | "exited";
  state: string;
  /** Map iteration, when inside a Map. */
  iteration: number | undefined;
  /** The state's input (entered) or output (exited). */
  payload: unknown;
}

export type ExecutionOutcome =
  | { status: "SUCCEEDED"; output: unknown }
  | {
      status: "FAILED";
      error: string;
      cause: string;
      /**
       * Each link's result as the Map produced it (`ProcessLinks`), when the execution got that far: the same
       * objects the cause lists, but never through an intrinsic function. aws-local-stepfunctions 3.0.0 deletes
       * every backslash from an intrinsic's string result, so the cause `States.JsonToString` makes is not valid
       * JSON when a message holds a quote; Step Functions itself escapes it properly.
       */
      results?: unknown[];
    };

export interface RunOptions {
  input: unknown;
  /** Local functions for the Task states, by state name: the Lambda handlers themselves. */
  tasks: Readonly<Record<string, TaskHandler>>;
  onEvent?: (event: ExecutionEvent) => void;
  /** Every state's input and output, for tests that measure payloads. */
  onPayload?: (payload: StatePayload) => void;
  /** Overrides every retry's wait (milliseconds); tests set 0. */
  retryIntervalMs?: number;
  /**
   * `$$.Execution.Id`, which the state machine hands the functions as their correlation id. Step Functions makes
   * it; the library leaves it unset, so a local run gets an ARN-shaped one of its own.
   */
  executionId?: string;
  definition?: StateMachineDefinition;
  /** Definitions already found valid; one of them is run without validating it again. */
  validated?: ValidatedDefinitions;
}

/**
 * Remembers which definitions (by SHA-256) passed validation. The library validates a definition each time a
 * machine is made, with asl-validator, whose JSON schemas are compiled anew in every process: 0.4 s of each
 * `npm start`, for a file that seldom changes between runs.
 */
export interface ValidatedDefinitions {
  has(digest: string): Promise<boolean>;
  add(digest: string): Promise<void>;
}

/**
 * The version of aws-local-stepfunctions, which validates: a definition found valid by another version says
 * nothing of what this one accepts, so the version is part of the digest.
 */
const LIBRARY_VERSION = (
  JSON.parse(
    readFileSync(
      join(dirname(createRequire(import.meta.url).resolve("aws-local-stepfunctions")), "../package.json"),
      "utf8",
    ),
  ) as { version: string }
).version;

/** What `validated` records of a definition: SHA-256 of the library's version and the definition. */
function definitionDigest(definition: StateMachineDefinition): string {
  return createHash("sha256").update(`${LIBRARY_VERSION}\n`).update(JSON.stringify(definition)).digest("hex");
}

/**
 * The library's machine for `definition`, validated (arn and path checks included) unless `validated` holds its
 * digest; a definition that passes is added to it. Throws the library's validation error otherwise.
 */
export async function prepareStateMachine(
  definition: StateMachineDefinition,
  validated?: ValidatedDefinitions,
): Promise<StateMachine> {
  const digest = validated && definitionDigest(definition);
  const known = digest !== undefined && (await validated?.has(digest));
  const machine = new StateMachine(definition, {
    validationOptions: known ? { noValidate: true } : { checkArn: true, checkPaths: true },
  });
  if (digest !== undefined && !known) await validated?.add(digest);
  return machine;
}

/** Executes the ASL with aws-local-stepfunctions, the Task states bound to the given handlers. */
export async function runStateMachine(options: RunOptions): Promise<ExecutionOutcome> {
  const definition = options.definition ?? (await loadDefinition());
  const machine = await prepareStateMachine(definition, options.validated);
  const retryIntervalOverrides =
    options.retryIntervalMs === undefined
      ? undefined
      : Object.fromEntries(
          Object.keys(options.tasks).map((state) => [state, options.retryIntervalMs as number]),
        );
  const execution = machine.run(options.input as ExecutionInput, {
    context: { Execution: { Id: options.executionId ?? localExecutionId() } },
    overrides: {
      taskResourceLocalHandlers: {
        ...unboundTasks(definition, options.tasks),
        ...options.tasks,
      } as LocalHandlers,
      ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}),
    },
  });
  let results: unknown[] | undefined;
  const watching = watch(execution.eventLogs, (event, input, output) => {
    if (options.onPayload && (event.type === "entered" || event.type === "exited")) {
      options.onPayload({
        type: event.type,
        state: event.state,
        iteration: event.iteration,
        payload: event.type === "entered" ? input : output,
      });
    }
    if (event.type === "exited" && event.state === RESULTS_STATE && event.iteration === undefined) {
      const held = (output as { results?: unknown } | undefined)?.results;
      if (Array.isArray(held)) results = held;
    }
    options.onEvent?.(event);
  });
  try {
    const output = await execution.result;
    await watching;
    return { status: "SUCCEEDED", output };
  } catch (error) {
    await watching;
    if (error instanceof ExecutionError) {
      const cause = (error as Error & { cause?: { name?: string; message?: string; cause?: unknown } }).cause;
      return {
        status: "FAILED",
        error: cause?.name ?? error.name,
        cause: typeof cause?.cause === "string" ? cause.cause : (cause?.message ?? error.message),
        ...(results ? { results } : {}),
      };
    }
    throw error;
  }
}

/**
 * A handler for each Task state the caller bound nothing to, which fails at once naming the state. Without it the
 * library would invoke the state's Lambda ARN with the AWS SDK: a local run must never reach for AWS (nor wait
 * on the SDK's search for credentials). A run that never enters the state (`npm start` never lists links) is
 * unaffected.
 */
function unboundTasks(
  definition: StateMachineDefinition,
  bound: Readonly<Record<string, TaskHandler>>,
): Record<string, TaskHandler> {
  const unbound: Record<string, TaskHandler> = {};
  for (const name of taskStateNames(definition)) {
    if (Object.hasOwn(bound, name)) continue;
    unbound[name] = async () => {
      throw new Error(`the local runner has no handler for Task state ${name}`);
    };
  }
  return unbound;
}

/** Every Task state's name, those inside Map item processors and Parallel branches included. */
export function taskStateNames(definition: { States: Record<string, unknown> }): string[] {
  const names: string[] = [];
  for (const [name, state] of Object.entries(definition.States)) {
    const value = state as {
      Type?: string;
      ItemProcessor?: { States: Record<string, unknown> };
      Iterator?: { States: Record<string, unknown> };
      Branches?: Array<{ States: Record<string, unknown> }>;
    };
    if (value.Type === "Task") names.push(name);
    for (const nested of [value.ItemProcessor, value.Iterator, ...(value.Branches ?? [])]) {
      if (nested) names.push(...taskStateNames(nested));
    }
  }
  return names;
}

/** The Map state whose output holds every link's result, under `results`. */
const RESULTS_STATE = "ProcessLinks";

export function localExecutionId(): string {
  return `arn:aws:states:us-east-1:123456789012:execution:roadtoll-local:${randomUUID()}`;
}

async function watch(
  events: AsyncIterable<{ type: string; timestamp: number }>,
  onEvent: (event: ExecutionEvent, input: unknown, output: unknown) => void,
): Promise<void> {
  const kinds: Record<string, ExecutionEvent["type"]> = {
    StateEntered: "entered",
    StateExited: "exited",
    StateFailed: "failed",
    StateRetried: "retried",
    StateCaught: "caught",
  };
  for await (const logged of events) {
    const event = logged as typeof logged & Record<string, unknown>;
    const type = kinds[event.type];
    if (!type) continue;
    const state = event.state as { name: string; input?: unknown; output?: unknown };
    onEvent(
      {
        type,
        state: state.name,
        iteration: typeof event.index === "number" ? event.index : undefined,
        timestamp: event.timestamp,
        ...(typeof event.Error === "string" ? { error: event.Error } : {}),
        ...(event.Cause !== undefined ? { cause: String(event.Cause) } : {}),
      },
      state.input,
      state.output,
    );
  }
}
