/**
 * Runs statemachine/pipeline.asl.json on AWS Step Functions Local against `sam local start-lambda`:
 *
 *   docker compose up -d --wait            # postgres, s3mock, stepfunctions-local
 *   sam build && sam local start-lambda    # another terminal; port 3001, settings from samconfig.toml
 *   npx tsx scripts/sfn-local.ts [events/pipeline.json] [--deadline-seconds 600] [--poll-ms 1000]
 *                                [--endpoint http://127.0.0.1:8083] [--definition statemachine/pipeline.asl.json]
 *
 * Step Functions Local resolves every Lambda ARN against its LAMBDA_ENDPOINT, where `sam local start-lambda`
 * serves each function under its logical id; the account and region in the ARN only have to look valid.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  type ExecutionStatus,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
  UpdateStateMachineCommand,
} from "@aws-sdk/client-sfn";
import { substitutePlaceholders } from "../src/local/state-machine.js";

export { substitutePlaceholders };

export const LOCAL_REGION = "us-east-1";
export const LOCAL_ACCOUNT = "123456789012";
const STATE_MACHINE_NAME = "roadtoll-pipeline";
// Step Functions Local never assumes the role, but the API insists on a well-formed ARN.
const LOCAL_ROLE_ARN = `arn:aws:iam::${LOCAL_ACCOUNT}:role/roadtoll-local`;

/** The same substitutions template.yaml passes as DefinitionSubstitutions, pointed at `sam local start-lambda`. */
export function localFunctionArns(region = LOCAL_REGION, account = LOCAL_ACCOUNT): Record<string, string> {
  const arn = (logicalId: string) => `arn:aws:lambda:${region}:${account}:function:${logicalId}`;
  return { IngestFunctionArn: arn("IngestFunction"), DeathsFunctionArn: arn("DeathsFunction") };
}

interface Options {
  definitionFile: string;
  inputFile: string;
  endpoint: string;
  deadlineMs: number;
  pollMs: number;
}

export const USAGE = `usage: npm run sfn:local -- [input.json] [options]

Runs statemachine/pipeline.asl.json on AWS Step Functions Local against \`sam local start-lambda\`
(docker compose up -d --wait; sam build && sam local start-lambda, in another terminal).

  input.json                 the execution input (default events/pipeline.json)
  --endpoint URL             Step Functions Local (default http://127.0.0.1:8083, or SFN_ENDPOINT)
  --definition FILE          the ASL (default statemachine/pipeline.asl.json)
  --deadline-seconds N       give up waiting after N seconds (default 600, or SFN_DEADLINE_SECONDS)
  --poll-ms N                how often to ask for the execution's status (default 1000)
  -h, --help                 this text`;

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options | "help" {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "deadline-seconds": { type: "string" },
      "poll-ms": { type: "string" },
      definition: { type: "string" },
      endpoint: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const deadlineSeconds = Number(values["deadline-seconds"] ?? env.SFN_DEADLINE_SECONDS ?? 600);
  if (!Number.isFinite(deadlineSeconds) || deadlineSeconds <= 0) {
    throw new Error("--deadline-seconds (or SFN_DEADLINE_SECONDS) must be a positive number");
  }
  const pollMs = Number(values["poll-ms"] ?? 1000);
  if (!Number.isInteger(pollMs) || pollMs <= 0) throw new Error("--poll-ms must be a positive integer");
  return {
    definitionFile: resolve(values.definition ?? "statemachine/pipeline.asl.json"),
    inputFile: resolve(positionals[0] ?? "events/pipeline.json"),
    endpoint: values.endpoint ?? env.SFN_ENDPOINT ?? "http://127.0.0.1:8083",
    deadlineMs: deadlineSeconds * 1000,
    pollMs,
  };
}

async function upsertStateMachine(client: SFNClient, definition: string): Promise<string> {
  // Step Functions Local keeps state machines only in memory, so a single page covers them all.
  const { stateMachines = [] } = await client.send(new ListStateMachinesCommand({}));
  const existing = stateMachines.find((machine) => machine.name === STATE_MACHINE_NAME);
  if (existing?.stateMachineArn) {
    await client.send(
      new UpdateStateMachineCommand({ stateMachineArn: existing.stateMachineArn, definition }),
    );
    return existing.stateMachineArn;
  }
  const created = await client.send(
    new CreateStateMachineCommand({ name: STATE_MACHINE_NAME, definition, roleArn: LOCAL_ROLE_ARN }),
  );
  if (!created.stateMachineArn) throw new Error("CreateStateMachine returned no ARN");
  return created.stateMachineArn;
}

/** Every event of an execution's history, all pages. */
export async function history(client: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 500 }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

function printHistory(events: HistoryEvent[]): void {
  for (const event of events) {
    const { timestamp, type, id, previousEventId, ...details } = event;
    const detail = Object.values(details).find((value) => value !== undefined);
    const when = timestamp instanceof Date ? timestamp.toISOString() : String(timestamp);
    console.error(`${String(id).padStart(4)} ${when} ${type}${detail ? ` ${JSON.stringify(detail)}` : ""}`);
  }
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let options: Options | "help";
  try {
    options = parseOptions(argv, env);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    console.log(USAGE);
    return 0;
  }
  const definition = substitutePlaceholders(
    await readFile(options.definitionFile, "utf8"),
    localFunctionArns(),
  );
  const input = await readFile(options.inputFile, "utf8");
  JSON.parse(input); // Fail here with a clear message rather than with an opaque InvalidExecutionInput.

  const client = new SFNClient({
    endpoint: options.endpoint,
    region: LOCAL_REGION,
    // Step Functions Local accepts any credentials; fixed ones keep a developer's real profile out of play.
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });

  const stateMachineArn = await upsertStateMachine(client, definition);
  const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn, input }));
  if (!executionArn) throw new Error("StartExecution returned no ARN");
  console.log(`started ${executionArn}`);

  const deadline = Date.now() + options.deadlineMs;
  let status: ExecutionStatus | undefined = "RUNNING";
  let output: string | undefined;
  while (status === "RUNNING" && Date.now() < deadline) {
    await sleep(options.pollMs);
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));
    status = described.status;
    output = described.output;
  }

  if (status === "SUCCEEDED") {
    console.log(`SUCCEEDED\n${output ?? ""}`);
    return 0;
  }
  const verdict = status === "RUNNING" ? `still RUNNING after ${options.deadlineMs / 1000} s` : status;
  console.error(`execution ${verdict}; history:`);
  printHistory(await history(client, executionArn));
  return 1;
}

const invokedDirectly =
  process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const refused = (error as { code?: string } | undefined)?.code === "ECONNREFUSED";
      console.error(error instanceof Error ? error.message : error);
      if (refused) console.error("Is Step Functions Local running? `docker compose up -d stepfunctions`");
      process.exitCode = 1;
    },
  );
}
