/**
 * A second Step Functions interpreter: statemachine/pipeline.asl.json runs on moto's Step Functions and on the local
 * runner (src/local/state-machine.ts, aws-local-stepfunctions) with the same inputs and the same scripted Lambda
 * answers, and both must agree on the outcome (status, output, or error and cause), on how many times each task was
 * attempted for each link, and on what each task was given.
 *
 * moto executes the ASL for real when told to (`POST /moto-api/config {"stepfunctions": {"execute_state_machine":
 * true}}`); its interpreter is a fork of LocalStack's (moto/stepfunctions/parser), whose behaviour LocalStack checks
 * against AWS snapshots. Otherwise moto answers with canned data.
 *
 * How the Lambda tasks are mocked, without Docker: moto's interpreter invokes a Task's Lambda ARN with boto3 at
 * `http://localhost:$MOTO_PORT` (moto/stepfunctions/parser/asl/utils/boto_client.py), and moto_server sets MOTO_PORT
 * to its own port only when it is not set already (moto/server.py). Started with MOTO_PORT set to the port of a small
 * HTTP server in this process, moto sends every invocation here. That server answers as Lambda's Invoke API does:
 * 200 with the handler's result, or, for a thrown error, 200 with `X-Amz-Function-Error: Unhandled` and the body the
 * Node.js runtime sends (`{errorType, errorMessage, trace}`). The same handlers serve the local runner. moto's own
 * mocks do not fit: its Docker-less Lambda (`/moto-api/static/lambda-simple/response`) can only succeed, and the
 * mocked-response config of Step Functions Local, which the interpreter carries, is not wired up in moto 5.2
 * (`load_mock_test_case_for` always returns None).
 *
 * The cause of a Lambda function error is, on Step Functions (moto, and AWS), the function's whole error response:
 * a JSON string with errorType, errorMessage and the stack trace. The ASL keeps errorMessage alone (ReadCause,
 * ParseCause, KeepMessage), which is what the local runner has to begin with; the tests compare them unnormalised.
 *
 * What differs, and is normalised below, each where it is done:
 * - The cause of States.Timeout: "" on moto, "States.Timeout" on the local runner.
 * - Retry waits: moto sleeps them (IntervalSeconds × BackoffRate^n, capped by MaxDelaySeconds, then FULL jitter);
 *   the local runner is told to wait 0 ms. For moto every retrier gets IntervalSeconds 1 and MaxDelaySeconds 1 (the
 *   least ASL allows), so a retry waits under a second.
 * - An execution's own TimeoutSeconds: moto ends it TIMED_OUT; runStateMachine rejects with ExecutionTimeoutError.
 *
 * moto 5.2 quirks worked around, not normalised: StartExecution without a name makes the ARN (and
 * `$$.Execution.Id`) end in ":None", so every execution is named; and StartExecution deep-copies the state machine
 * with its backend, which fails (HTTP 500, "cannot pickle '_thread.RLock'") once any execution has run in that
 * account and region, so moto is reset before each execution.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  type HistoryEvent,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import type { StateMachineDefinition } from "aws-local-stepfunctions";
import { afterAll, describe, expect, it } from "vitest";
import { history as executionHistory } from "../../scripts/sfn-local.js";
import type { IngestResult } from "../../src/contracts/events.js";
import { type ErrorName, RoadtollError } from "../../src/errors.js";
import type { CuratedResult } from "../../src/handlers/publish-curated-handler.js";
import {
  type ExecutionEvent,
  type ExecutionOutcome,
  loadDefinition,
  runStateMachine,
  type TaskHandler,
} from "../../src/local/state-machine.js";
import { CURATED_REPORT_KEY } from "../../src/pipeline/curated.js";
import type { DeathsResult } from "../../src/pipeline/deaths-step.js";
import { summaryKey } from "../../src/pipeline/keys.js";
import { skipNote, skipWithout } from "../support/tools.js";

const REGION = "us-east-1";
/** History events of a link that succeeds without a retry, and of the rest of the execution (measured on moto). */
const PER_LINK_EVENTS = 18;
const FIXED_EVENTS = 19;
const ROLE_ARN = "arn:aws:iam::123456789012:role/roadtoll-moto";
const DEADLINE_MS = 60_000;

// ---------------------------------------------------------------------------------------------------------------
// Scripted Lambda answers, shared by both interpreters.

/** One answer of a task for one link; a link's last answer repeats. */
type Reply = { ok: true; delayMs?: number } | { error: ErrorName; message: string; delayMs?: number };
/** Answers by state name, then by the link's source. */
type Script = Record<string, Record<string, Reply[]>>;

interface Scripted {
  tasks: Record<string, TaskHandler>;
  /** What each task was given, in the order the calls came. */
  calls: Array<{ state: string; input: unknown }>;
  /** Attempts by state, then by source. */
  attempts: Record<string, Record<string, number>>;
  inFlight: { now: number; max: number };
}

/**
 * PublishCurated runs once per execution, for every source at once: its attempts are counted under this name, and a
 * script answers it under this name too.
 */
const ALL_SOURCES = "(all)";

/**
 * The link a task's input belongs to: Ingest gets `{link, execution}`, ComputeDeaths the ingest result;
 * PublishCurated (`{publishCurated: {execution}}`) belongs to no one link.
 */
function sourceOf(state: string, input: unknown): string {
  if (state === "PublishCurated") return ALL_SOURCES;
  const value = input as { link?: { source?: string }; source?: string };
  const source = state === "Ingest" ? value.link?.source : value.source;
  if (typeof source !== "string") throw new Error(`${state}: no source in ${JSON.stringify(input)}`);
  return source;
}

function ingestResult(source: string, execution: string | undefined): IngestResult {
  return {
    bucket: "roadtoll-test",
    key: `clean/${source}/20260101T000000Z-abc123.csv`,
    rawKey: `raw/${source}/20260101T000000Z-abc123.csv`,
    source,
    url: `https://example.test/${source}.csv`,
    runId: "20260101T000000Z-abc123",
    bytes: 1234,
    sha256: "0".repeat(64),
    cleanBytes: 1200,
    rows: 10,
    encoding: "utf-8",
    delimiter: ";",
    ingestedAt: "2026-01-01T00:00:00.000Z",
    ...(execution === undefined ? {} : { execution }),
  };
}

/** The deaths step's answer: counts and keys (its full summary would be in S3, at keys.summary). */
function deathsResult(ingest: IngestResult): DeathsResult {
  return {
    message: `${ingest.source}: 6 deaths on 1 roads from 10 accidents; 0 rows rejected; worst road BR-101/SC (6 deaths)`,
    source: ingest.source,
    createdAt: ingest.ingestedAt,
    current: true,
    rowsRead: 10,
    rowsAccepted: 10,
    rowsRejected: 0,
    roads: 1,
    rowsWritten: 5,
    totalDeaths: 6,
    deathsByVehicle: { automovel: 3, bicicleta: 0, caminhao: 1, moto: 2, onibus: 0 },
    bucket: ingest.bucket,
    keys: {
      summary: summaryKey(ingest.source, ingest.runId, ingest.execution),
      rejects: `rejects/${ingest.source}/${ingest.runId}.csv`,
      clean: ingest.key,
    },
  };
}

/** PublishCurated's answer: the report's key and how many objects it wrote (a report and two files a source). */
function curatedResult(sources: number): CuratedResult {
  return { report: CURATED_REPORT_KEY, objects: 1 + 2 * sources };
}

/** Adds one attempt of `state` for `source`, and returns how many there have been. */
function count(attempts: Scripted["attempts"], state: string, source: string): number {
  const perState = attempts[state] ?? {};
  attempts[state] = perState;
  perState[source] = (perState[source] ?? 0) + 1;
  return perState[source];
}

/** Fresh handlers for one run: each interpreter gets its own, so attempts are counted apart. */
function scripted(script: Script): Scripted {
  const calls: Scripted["calls"] = [];
  const attempts: Scripted["attempts"] = {};
  const inFlight = { now: 0, max: 0 };
  const answer = async (state: string, input: unknown, result: (source: string) => unknown) => {
    const source = sourceOf(state, input);
    calls.push({ state, input });
    const attempt = count(attempts, state, source);
    const replies = script[state]?.[source] ?? [{ ok: true }];
    const reply = replies[Math.min(attempt, replies.length) - 1] as Reply;
    inFlight.now += 1;
    inFlight.max = Math.max(inFlight.max, inFlight.now);
    try {
      if (reply.delayMs) await sleep(reply.delayMs);
      if ("error" in reply) throw new RoadtollError(reply.error, reply.message);
      return result(source);
    } finally {
      inFlight.now -= 1;
    }
  };
  return {
    calls,
    attempts,
    inFlight,
    tasks: {
      Ingest: (input) =>
        answer("Ingest", input, (source) =>
          ingestResult(source, (input as { execution?: string }).execution),
        ),
      ComputeDeaths: (input) => answer("ComputeDeaths", input, () => deathsResult(input as IngestResult)),
      PublishCurated: (input) =>
        answer("PublishCurated", input, () =>
          curatedResult(
            new Set(
              calls
                .filter((call) => call.state === "ComputeDeaths")
                .map(({ input }) => sourceOf("ComputeDeaths", input)),
            ).size,
          ),
        ),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The Lambda endpoint moto calls, and moto_server itself.

/** A Task state, wherever it is (top level, or inside ProcessLinks). */
interface TaskState {
  Type: string;
  Resource: string;
  TimeoutSeconds?: number;
  Retry?: Array<{ IntervalSeconds?: number; MaxDelaySeconds?: number }>;
}

/** Every Task state by name, those of the Map's item processor included: the same objects, to adjust in place. */
function taskStates(definition: StateMachineDefinition): Record<string, TaskState> {
  const found: Record<string, TaskState> = {};
  const visit = (states: Record<string, unknown>) => {
    for (const [name, state] of Object.entries(states)) {
      const value = state as TaskState & { ItemProcessor?: { States: Record<string, unknown> } };
      if (value.Type === "Task") found[name] = value;
      if (value.ItemProcessor) visit(value.ItemProcessor.States);
    }
  };
  visit(definition.States as Record<string, unknown>);
  return found;
}

/** Function ARN (as the definition names it) to the states that invoke it: the deaths function serves two. */
function statesByResource(definition: StateMachineDefinition): Map<string, string[]> {
  const byResource = new Map<string, string[]>();
  for (const [name, state] of Object.entries(taskStates(definition))) {
    byResource.set(state.Resource, [...(byResource.get(state.Resource) ?? []), name]);
  }
  return byResource;
}

/**
 * The state an invocation of a function came from, told apart as the function itself does (src/lambda/deaths.ts,
 * src/lambda/ingest.ts): by the event's shape.
 */
function stateOf(resource: string, input: unknown): string | undefined {
  const candidates = resources.get(resource) ?? [];
  if (candidates.length <= 1) return candidates[0];
  const keys = typeof input === "object" && input !== null ? Object.keys(input) : [];
  if (keys.includes("publishCurated")) return "PublishCurated";
  if (keys.includes("listLinks")) return "ListLinks";
  return candidates.find((name) => name !== "PublishCurated" && name !== "ListLinks");
}

let lambdaTasks: Record<string, TaskHandler> = {};
let resources = new Map<string, string[]>();

/** Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`), answered by `lambdaTasks`. */
function startLambdaEndpoint(): Promise<Server> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", async () => {
      const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(request.url ?? "");
      const input: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8") || "null");
      const state = match?.[1] ? stateOf(decodeURIComponent(match[1]), input) : undefined;
      const task = state === undefined ? undefined : lambdaTasks[state];
      if (!task) {
        const body = { Type: "User", message: `Function not found: ${request.url}` };
        response.writeHead(404, {
          "content-type": "application/json",
          "x-amzn-errortype": "ResourceNotFoundException",
        });
        response.end(JSON.stringify(body));
        return;
      }
      try {
        const result = await task(input);
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result));
      } catch (error) {
        // What the Node.js runtime returns for an error the handler throws.
        const thrown = error as Error;
        const body = {
          errorType: thrown.name,
          errorMessage: thrown.message,
          trace: String(thrown.stack).split("\n"),
        };
        response.writeHead(200, { "content-type": "application/json", "x-amz-function-error": "Unhandled" });
        response.end(JSON.stringify(body));
      }
    });
  });
  server.listen(0, "127.0.0.1");
  return once(server, "listening").then(() => server);
}

function onPath(command: string): string | undefined {
  for (const folder of (process.env.PATH ?? "").split(delimiter)) {
    if (!folder) continue;
    try {
      accessSync(join(folder, command), constants.X_OK);
      return join(folder, command);
    } catch {}
  }
  return undefined;
}

interface Moto {
  endpoint: string;
  sfn: SFNClient;
  lambda: Server;
  stop(): Promise<void>;
}

/**
 * Starts moto_server on 127.0.0.1 with a port the kernel picks (werkzeug prints it), its Lambda calls pointed at a
 * Lambda endpoint in this process. The child gets no AWS_ or proxy settings from this environment, so nothing it
 * sends can leave loopback.
 */
async function startMoto(executable: string): Promise<Moto> {
  const lambda = await startLambdaEndpoint();
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(aws_|moto_|https?_proxy$|all_proxy$|no_proxy$)/i.test(name),
    ),
  );
  Object.assign(env, {
    MOTO_PORT: String((lambda.address() as AddressInfo).port),
    PYTHONUNBUFFERED: "1",
    NO_PROXY: "*",
    AWS_EC2_METADATA_DISABLED: "true",
  });
  const child = spawn(executable, ["-H", "127.0.0.1", "-p", "0"], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  // moto_server is a pyenv shim or a Python script: the process group holds whatever it became.
  const kill = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    } catch {}
  };
  process.once("exit", kill);
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-8_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const stop = async () => {
    process.removeListener("exit", kill);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      kill();
      await exited;
    }
    lambda.close();
    await once(lambda, "close");
  };
  try {
    const port = await listeningPort(child, () => output);
    const endpoint = `http://127.0.0.1:${port}`;
    const config = await fetch(`${endpoint}/moto-api/config`, {
      method: "POST",
      body: JSON.stringify({ stepfunctions: { execute_state_machine: true } }),
    });
    if (!config.ok) throw new Error(`POST /moto-api/config: HTTP ${config.status}`);
    const sfn = new SFNClient({
      endpoint,
      region: REGION,
      credentials: { accessKeyId: "moto", secretAccessKey: "moto" },
      maxAttempts: 1,
    });
    return { endpoint, sfn, lambda, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function listeningPort(child: ChildProcess, output: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`moto_server did not start:\n${output()}`)), 30_000);
    const look = () => {
      const match = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(output());
      if (!match) return;
      clearTimeout(deadline);
      resolve(Number(match[1]));
    };
    child.stdout?.on("data", look);
    child.stderr?.on("data", look);
    child.once("error", reject);
    child.once("exit", (code) =>
      reject(new Error(`moto_server exited (${code}) before listening:\n${output()}`)),
    );
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Running an execution on moto.

type MotoOutcome = ExecutionOutcome | { status: "TIMED_OUT" | "ABORTED" };

interface MotoRun {
  outcome: MotoOutcome;
  executionArn: string;
  history: HistoryEvent[];
}

let executions = 0;

async function runOnMoto(moto: Moto, definition: unknown, input: unknown): Promise<MotoRun> {
  // See the top of the file: a second execution in one account and region fails without a reset.
  const reset = await fetch(`${moto.endpoint}/moto-api/reset`, { method: "POST" });
  if (!reset.ok) throw new Error(`POST /moto-api/reset: HTTP ${reset.status}`);
  const { stateMachineArn } = await moto.sfn.send(
    new CreateStateMachineCommand({
      name: "roadtoll-pipeline",
      definition: JSON.stringify(definition),
      roleArn: ROLE_ARN,
    }),
  );
  executions += 1;
  const { executionArn } = await moto.sfn.send(
    new StartExecutionCommand({ stateMachineArn, name: `run-${executions}`, input: JSON.stringify(input) }),
  );
  if (!executionArn) throw new Error("StartExecution returned no ARN");
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const described = await moto.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (described.status !== "RUNNING") {
      const events = await executionHistory(moto.sfn, executionArn);
      const outcome: MotoOutcome =
        described.status === "SUCCEEDED"
          ? { status: "SUCCEEDED", output: JSON.parse(described.output ?? "null") }
          : described.status === "FAILED"
            ? { status: "FAILED", error: described.error ?? "", cause: described.cause ?? "" }
            : { status: described.status as "TIMED_OUT" | "ABORTED" };
      return { outcome, executionArn, history: events };
    }
    if (Date.now() > deadline) throw new Error(`${executionArn} still RUNNING after ${DEADLINE_MS} ms`);
    await sleep(50);
  }
}

/** Attempts by state and source as moto's history records them: one LambdaFunctionScheduled per attempt. */
function attemptsInHistory(history: HistoryEvent[]): Scripted["attempts"] {
  const attempts: Scripted["attempts"] = {};
  for (const event of history) {
    const details = event.lambdaFunctionScheduledEventDetails;
    if (event.type !== "LambdaFunctionScheduled" || !details?.resource) continue;
    const input: unknown = JSON.parse(details.input ?? "null");
    const state = stateOf(details.resource, input) ?? details.resource;
    const source = sourceOf(state, input);
    count(attempts, state, source);
  }
  return attempts;
}

/** Errors of the failed Lambda attempts in moto's history, sorted. */
function lambdaFailures(history: HistoryEvent[]): string[] {
  return history
    .flatMap((event) => [
      event.lambdaFunctionFailedEventDetails?.error,
      event.lambdaFunctionTimedOutEventDetails?.error,
    ])
    .filter((error): error is string => error !== undefined)
    .sort();
}

/**
 * Step Functions' retry waits, shortened for moto: IntervalSeconds and MaxDelaySeconds 1 on every retrier (1 is the
 * least ASL allows), BackoffRate and JitterStrategy kept. The local runner keeps the real values and waits 0 ms.
 */
function fastRetries(definition: StateMachineDefinition): StateMachineDefinition {
  const fast = structuredClone(definition);
  for (const task of Object.values(taskStates(fast))) {
    for (const retrier of task.Retry ?? []) {
      retrier.IntervalSeconds = 1;
      retrier.MaxDelaySeconds = 1;
    }
  }
  return fast;
}

// ---------------------------------------------------------------------------------------------------------------
// Comparing the two.

interface LinkResult {
  link: { index: number; source?: string; url?: string };
  status: string;
  error?: string;
  cause?: string;
}

function causeOf(outcome: MotoOutcome): LinkResult[] {
  expect(outcome).toMatchObject({ status: "FAILED", error: "LinkFailed" });
  return JSON.parse((outcome as { cause: string }).cause) as LinkResult[];
}

/** A task's input, comparable across interpreters whatever order the Map ran the links in. */
/**
 * Each call as text, in a stable order. `started` ($$.Execution.StartTime) is the execution's own start time, which
 * two runs never share (and moto writes with a +00:00 offset where Step Functions writes Z): checked for a time, then
 * left out.
 */
const callKeys = (calls: Scripted["calls"]) =>
  calls
    .map((call) =>
      JSON.stringify(call, (key, value: unknown) => {
        if (key !== "started") return value;
        expect(Number.isNaN(Date.parse(String(value))), String(value)).toBe(false);
        return undefined;
      }),
    )
    .sort();

interface Both {
  moto: MotoRun & Scripted;
  local: { outcome: ExecutionOutcome; events: ExecutionEvent[] } & Scripted;
}

const moto = await (async (): Promise<Moto | string> => {
  const executable = onPath("moto_server");
  if (!executable) return "moto_server is not on PATH (pip install 'moto[server]>=5.2')";
  const started = await startMoto(executable);
  // A moto without the ASL interpreter ignores the config and answers StartExecution with canned data.
  try {
    const probe = {
      StartAt: "Probe",
      States: { Probe: { Type: "Pass", Result: { executes: true }, End: true } },
    };
    const { outcome } = await runOnMoto(started, probe, {});
    if (outcome.status === "SUCCEEDED" && JSON.stringify(outcome.output) === '{"executes":true}')
      return started;
    await started.stop();
    return `moto_server is too old: it does not execute state machines (${JSON.stringify(outcome)})`;
  } catch (error) {
    await started.stop();
    throw error;
  }
})();

afterAll(async () => {
  if (typeof moto !== "string") await moto.stop();
});

/** Runs the input on moto, then on the local runner with moto's execution ARN as `$$.Execution.Id`. */
async function runBoth(
  input: unknown,
  script: Script,
  adjust: (definition: StateMachineDefinition) => void = () => {},
): Promise<Both> {
  if (typeof moto === "string") throw new Error(moto);
  const definition = await loadDefinition();
  adjust(definition);
  resources = statesByResource(definition);

  const onMoto = scripted(script);
  lambdaTasks = onMoto.tasks;
  const motoRun = await runOnMoto(moto, fastRetries(definition), input);
  // A task moto gave up on (States.Timeout) may still be answering.
  while (onMoto.inFlight.now > 0) await sleep(50);

  const onLocal = scripted(script);
  const events: ExecutionEvent[] = [];
  const outcome = await runStateMachine({
    input,
    tasks: onLocal.tasks,
    definition,
    retryIntervalMs: 0,
    executionId: motoRun.executionArn,
    onEvent: (event) => events.push(event),
  });
  return { moto: { ...motoRun, ...onMoto }, local: { outcome, events, ...onLocal } };
}

/** What must hold for every scenario: the same task calls, attempts and, once normalised, outcome. */
function expectSameBehaviour({ moto: onMoto, local }: Both): void {
  expect(attemptsInHistory(onMoto.history)).toEqual(onMoto.attempts);
  expect(onMoto.attempts).toEqual(local.attempts);
  expect(callKeys(onMoto.calls)).toEqual(callKeys(local.calls));
  if (onMoto.outcome.status === "FAILED" && onMoto.outcome.error === "LinkFailed") {
    expect(causeOf(onMoto.outcome)).toEqual(causeOf(local.outcome));
  } else {
    // The local runner also keeps the Map's own output of a failed execution (for npm start): not a Step
    // Functions field.
    const { results: _kept, ...outcome } = local.outcome as ExecutionOutcome & { results?: unknown };
    expect(onMoto.outcome).toEqual(outcome);
  }
}

const retried = (events: ExecutionEvent[]) =>
  events
    .filter((event) => event.type === "retried")
    .map((event) => event.state)
    .sort();

const noMoto = typeof moto === "string" && moto;
describe.skipIf(skipWithout(noMoto))(
  `pipeline.asl.json on moto's Step Functions agrees with the local runner${skipNote(noMoto)}`,
  () => {
    it("runs a single link (States.Array wraps it) through both steps", async () => {
      const both = await runBoth({ source: "Norte" }, {});
      expectSameBehaviour(both);
      expect(both.moto.outcome).toEqual({
        status: "SUCCEEDED",
        output: {
          status: "succeeded",
          results: [
            {
              link: { index: 0, source: "Norte" },
              status: "succeeded",
              // Counts and the full summary's key, named after the execution (moto names it run-N).
              summary: {
                key: `runs/${both.moto.executionArn.split(":").at(-1)}/Norte.json`,
                rowsRead: 10,
                rowsRejected: 0,
                totalDeaths: 6,
              },
            },
          ],
          // PublishCurated's answer, after the link.
          curated: { report: CURATED_REPORT_KEY, objects: 3 },
        },
      });
      expect(both.moto.attempts).toEqual({
        Ingest: { Norte: 1 },
        ComputeDeaths: { Norte: 1 },
        PublishCurated: { [ALL_SOURCES]: 1 },
      });
      // Once, after every link: the last call.
      expect(both.moto.calls.at(-1)?.state).toBe("PublishCurated");
    });

    it("runs two links, handing both functions $$.Execution.Id (the execution's ARN)", async () => {
      const both = await runBoth(
        { links: [{ source: "Norte" }, { url: "https://example.test/x.csv", source: "Sul" }] },
        {},
      );
      expectSameBehaviour(both);
      const output = (both.moto.outcome as { output: { results: LinkResult[] } }).output;
      expect(output.results.map((result) => [result.link, result.status])).toEqual([
        [{ index: 0, source: "Norte" }, "succeeded"],
        [{ index: 1, source: "Sul" }, "succeeded"],
      ]);
      expect(both.moto.executionArn).toMatch(
        /^arn:aws:states:us-east-1:\d{12}:execution:roadtoll-pipeline:run-\d+$/,
      );
      for (const call of both.moto.calls.filter((call) => call.state !== "PublishCurated")) {
        expect(call.input).toMatchObject({ execution: both.moto.executionArn });
      }
      expect(
        both.moto.calls.filter((call) => call.state === "PublishCurated").map((call) => call.input),
      ).toEqual([{ publishCurated: { execution: both.moto.executionArn } }]);
      expect(both.moto.calls.filter((call) => call.state === "Ingest").map((call) => call.input)).toEqual(
        expect.arrayContaining([
          { link: { source: "Norte" }, execution: both.moto.executionArn, started: expect.any(String) },
          {
            link: { url: "https://example.test/x.csv", source: "Sul" },
            execution: both.moto.executionArn,
            started: expect.any(String),
          },
        ]),
      );
    });

    it("retries transient errors in either step, then succeeds", async () => {
      const both = await runBoth(
        { source: "Flaky" },
        {
          Ingest: {
            Flaky: [
              {
                error: "DownloadUnavailableError",
                message: "https://example.test/Flaky.csv: server answered HTTP 503",
              },
              {
                error: "DownloadUnavailableError",
                message: "https://example.test/Flaky.csv: connection reset",
              },
              { ok: true },
            ],
          },
          ComputeDeaths: {
            Flaky: [{ error: "DatabaseUnavailableError", message: "database restarting" }, { ok: true }],
          },
        },
      );
      expectSameBehaviour(both);
      expect(both.moto.outcome.status).toBe("SUCCEEDED");
      expect(both.moto.attempts).toEqual({
        Ingest: { Flaky: 3 },
        ComputeDeaths: { Flaky: 2 },
        PublishCurated: { [ALL_SOURCES]: 1 },
      });
      expect(retried(both.local.events)).toEqual(["ComputeDeaths", "Ingest", "Ingest"]);
      expect(lambdaFailures(both.moto.history)).toEqual([
        "DatabaseUnavailableError",
        "DownloadUnavailableError",
        "DownloadUnavailableError",
      ]);
    });

    it("gives up on a transient error after the retry budget (1 + MaxAttempts 3) and fails the execution", async () => {
      const down = {
        error: "DownloadUnavailableError",
        message: "https://example.test/Down.csv: timed out",
      } as const;
      const both = await runBoth({ source: "Down" }, { Ingest: { Down: [down] } });
      expectSameBehaviour(both);
      // PublishCurated runs all the same (whatever the links did), and succeeds: the failure is the link's.
      expect(both.moto.attempts).toEqual({ Ingest: { Down: 4 }, PublishCurated: { [ALL_SOURCES]: 1 } });
      expect(causeOf(both.moto.outcome)).toEqual([
        { link: { index: 0 }, status: "failed", error: down.error, cause: down.message },
      ]);
    });

    it("catches a permanent error at once, without a retry, and fails with LinkFailed listing the link", async () => {
      const gone = {
        error: "DownloadError",
        message: "https://example.test/Gone.csv: server answered HTTP 404",
      } as const;
      const both = await runBoth({ links: [{ source: "Gone" }] }, { Ingest: { Gone: [gone] } });
      expectSameBehaviour(both);
      expect(both.moto.attempts).toEqual({ Ingest: { Gone: 1 }, PublishCurated: { [ALL_SOURCES]: 1 } });
      expect(retried(both.local.events)).toEqual([]);
      expect(lambdaFailures(both.moto.history)).toEqual(["DownloadError"]);
      expect(causeOf(both.local.outcome)).toEqual([
        { link: { index: 0 }, status: "failed", error: gone.error, cause: gone.message },
      ]);
      // Step Functions' cause of a failed Lambda is its whole error response (stack trace and all); the ASL keeps
      // only the message, so the failure cause stays small.
      expect(causeOf(both.moto.outcome)).toEqual([
        { link: { index: 0 }, status: "failed", error: gone.error, cause: gone.message },
      ]);
    });

    it("lets the other links finish when one fails, then fails the execution listing them all", async () => {
      const junk = {
        error: "TooManyRejectsError",
        message: "clean/Junk/x.csv: 2 of 2 rows rejected (100.0%); nothing written",
      } as const;
      const both = await runBoth(
        { links: [{ source: "Norte" }, { source: "Junk" }, { source: "Sul" }] },
        { ComputeDeaths: { Junk: [junk] } },
      );
      expectSameBehaviour(both);
      expect(both.moto.attempts).toEqual({
        Ingest: { Norte: 1, Junk: 1, Sul: 1 },
        ComputeDeaths: { Norte: 1, Junk: 1, Sul: 1 },
        PublishCurated: { [ALL_SOURCES]: 1 },
      });
      expect(causeOf(both.moto.outcome)).toEqual([
        { link: { index: 0, source: "Norte" }, status: "succeeded" },
        {
          link: { index: 1, source: "Junk", url: "https://example.test/Junk.csv" },
          status: "failed",
          error: junk.error,
          cause: junk.message,
        },
        { link: { index: 2, source: "Sul" }, status: "succeeded" },
      ]);
    });

    it("fails with CuratedPublishFailed when the publication fails for good, though the link succeeded", async () => {
      const refused = {
        error: "DatabaseError",
        message:
          'cannot read the figures to publish under curated/: relation "deaths_by_vehicle" does not exist',
      } as const;
      const both = await runBoth({ source: "Norte" }, { PublishCurated: { [ALL_SOURCES]: [refused] } });
      expectSameBehaviour(both);
      // The function's error and message, not Lambda's whole error response (ReadCuratedCause, as ReadCause does).
      expect(both.moto.outcome).toEqual({
        status: "FAILED",
        error: "CuratedPublishFailed",
        cause: `${refused.error}: ${refused.message}`,
      });
      expect(both.moto.attempts).toEqual({
        Ingest: { Norte: 1 },
        ComputeDeaths: { Norte: 1 },
        PublishCurated: { [ALL_SOURCES]: 1 },
      });
      expect(lambdaFailures(both.moto.history)).toEqual(["DatabaseError"]);
    });

    it("retries a transient publication failure like the deaths step's, then succeeds", async () => {
      const both = await runBoth(
        { source: "Norte" },
        {
          PublishCurated: {
            [ALL_SOURCES]: [
              {
                error: "StorageError",
                message: "cannot write s3://roadtoll-test/curated/report.html (SlowDown)",
              },
              { error: "DatabaseUnavailableError", message: "database restarting" },
              { ok: true },
            ],
          },
        },
      );
      expectSameBehaviour(both);
      expect(both.moto.outcome).toMatchObject({
        status: "SUCCEEDED",
        output: { curated: { report: CURATED_REPORT_KEY, objects: 3 } },
      });
      expect(both.moto.attempts.PublishCurated).toEqual({ [ALL_SOURCES]: 3 });
      expect(retried(both.local.events)).toEqual(["PublishCurated", "PublishCurated"]);
    });

    it("reports failed links first (LinkFailed) when the publication fails too", async () => {
      const gone = {
        error: "DownloadError",
        message: "https://example.test/Gone.csv: server answered HTTP 404",
      } as const;
      const both = await runBoth(
        { links: [{ source: "Gone" }, { source: "Norte" }] },
        {
          Ingest: { Gone: [gone] },
          PublishCurated: { [ALL_SOURCES]: [{ error: "DatabaseError", message: "permission denied" }] },
        },
      );
      expectSameBehaviour(both);
      expect(causeOf(both.moto.outcome)).toEqual([
        { link: { index: 0 }, status: "failed", error: gone.error, cause: gone.message },
        { link: { index: 1, source: "Norte" }, status: "succeeded" },
      ]);
      expect(both.moto.attempts.PublishCurated).toEqual({ [ALL_SOURCES]: 1 });
    });

    it("keeps a failure message with quotes and backslashes intact: moto does, the local runner does not", async () => {
      // HeaderError's own wording (src/domain/header.ts), and a backslash as a Windows path would have.
      const twice = {
        error: "HeaderError",
        message: 'C:\\data\\x.csv: header has column "mortos" twice',
      } as const;
      const both = await runBoth({ source: "Twice" }, { Ingest: { Twice: [twice] } });
      expect(both.moto.attempts).toEqual(both.local.attempts);
      expect(causeOf(both.moto.outcome)).toEqual([
        { link: { index: 0 }, status: "failed", error: twice.error, cause: twice.message },
      ]);
      // aws-local-stepfunctions 3.0.0 deletes every backslash from an intrinsic function's string result
      // (BaseIntrinsicFunction.call: `result.replaceAll("\\", "")`), so States.JsonToString loses the escapes: the
      // local cause is not JSON, and `npm start` prints it raw instead of one line per link. When this assertion
      // fails, the library is fixed: compare the two with expectSameBehaviour instead.
      const local = both.local.outcome as { error: string; cause: string };
      expect(local.error).toBe("LinkFailed");
      expect(local.cause).toContain('"cause":"C:datax.csv: header has column "mortos" twice"');
      expect(() => JSON.parse(local.cause)).toThrow(SyntaxError);
    });

    it("fails an empty links list as NoLinksError, before the Map (whose status list needs an item)", async () => {
      const both = await runBoth({ links: [] }, {});
      expectSameBehaviour(both);
      expect(both.moto.outcome).toMatchObject({ status: "FAILED", error: "NoLinksError" });
      expect(both.moto.calls).toEqual([]);
    });

    it("costs a fixed number of history events per link: 25,000 per execution bound the links one can hold", async () => {
      const links = (n: number) => ({ links: Array.from({ length: n }, (_, i) => ({ source: `L${i}` })) });
      const [one, three] = [await runBoth(links(1), {}), await runBoth(links(3), {})];
      expectSameBehaviour(three);
      const perLink = (three.moto.history.length - one.moto.history.length) / 2;
      const fixed = one.moto.history.length - perLink;
      // Per link: MapIterationStarted/Succeeded, and Entered/Exited of each state it passes, each Task with its
      // LambdaFunctionScheduled/Started/Succeeded besides. The fixed part includes PublishCurated's 5 (Entered,
      // Exited and its Lambda's 3). See docs/performance.md.
      expect({ perLink, fixed }).toEqual({ perLink: PER_LINK_EVENTS, fixed: FIXED_EVENTS });
      // A failed link costs its iteration's events, then another iteration in ListFailures.
      const fail = { error: "DownloadError", message: "gone" } as const;
      const failing = await runBoth(links(3), { Ingest: { L0: [fail], L1: [fail], L2: [fail] } });
      expectSameBehaviour(failing);
      // Measured: 91 events for 3 links failing at Ingest, about 23 per link (the failure path's Choice and Pass
      // states, and ListFailures' iteration) against 18 for a success, PublishCurated's 5 included.
      expect(failing.moto.history.length).toBe(91);
    });

    it("runs at most MaxConcurrency (2) links at a time, and does run two at once", async () => {
      const slow: Reply[] = [{ ok: true, delayMs: 300 }];
      const both = await runBoth(
        { links: [{ source: "A" }, { source: "B" }, { source: "C" }, { source: "D" }] },
        { Ingest: { A: slow, B: slow, C: slow, D: slow } },
      );
      expectSameBehaviour(both);
      expect(both.moto.inFlight.max).toBe(2);
      expect(both.local.inFlight.max).toBe(2);
    });

    it("times a task out after its TimeoutSeconds as States.Timeout, caught like any error (causes differ)", async () => {
      const both = await runBoth(
        { source: "Slow" },
        { Ingest: { Slow: [{ ok: true, delayMs: 1_800 }] } },
        (d) => {
          (taskStates(d).Ingest as TaskState).TimeoutSeconds = 1;
        },
      );
      expect(attemptsInHistory(both.moto.history)).toEqual(both.moto.attempts);
      expect(both.moto.attempts).toEqual(both.local.attempts);
      expect(lambdaFailures(both.moto.history)).toEqual(["States.Timeout"]);
      // The one difference: moto binds "" when a failure has no cause (as AWS does, by LocalStack's snapshots); the
      // local runner uses the error's message.
      const expected = (cause: string) => [
        { link: { index: 0 }, status: "failed", error: "States.Timeout", cause },
      ];
      expect(causeOf(both.moto.outcome)).toEqual(expected(""));
      expect(causeOf(both.local.outcome)).toEqual(expected("States.Timeout"));
    });

    it("ends an execution that outlives its TimeoutSeconds: TIMED_OUT on moto, a rejection from the local runner", async () => {
      if (typeof moto === "string") throw new Error(moto);
      const definition = await loadDefinition();
      definition.TimeoutSeconds = 1;
      resources = statesByResource(definition);
      const script: Script = { Ingest: { Late: [{ ok: true, delayMs: 1_800 }] } };
      const onMoto = scripted(script);
      lambdaTasks = onMoto.tasks;
      const motoRun = await runOnMoto(moto, definition, { source: "Late" });
      expect(motoRun.outcome).toEqual({ status: "TIMED_OUT" });
      while (onMoto.inFlight.now > 0) await sleep(50);
      const onLocal = scripted(script);
      await expect(
        runStateMachine({ input: { source: "Late" }, tasks: onLocal.tasks, definition }),
      ).rejects.toThrow(expect.objectContaining({ name: "ExecutionTimeoutError" }));
      while (onLocal.inFlight.now > 0) await sleep(50);
    });
  },
);
