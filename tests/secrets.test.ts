import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import { root, taskRootLikeImage } from "./infra/bundle.js";
import { startTestStorage, type TestStorage } from "./support/storage.js";
import { openWireDatabase, type WireDatabase } from "./support/wire-database.js";

/**
 * Issue 7, "secrets never leave": the ingest and deaths functions, bundled as their images are, run in a child
 * process of their own with debug logging, and are handed a link token, a link password and a database
 * password. Every line they write on stdout and stderr, every result, every error (message, stack, cause chain,
 * own properties) and the S3 objects' keys and metadata are then scanned for the three secrets.
 */

// Letters and digits only: no encoding (percent, base64 of a URL) could hide one from a substring search.
const fresh = (prefix: string) => `${prefix}${randomBytes(8).toString("hex")}`;
const TOKEN = fresh("tok");
const LINK_PASSWORD = fresh("usr");
const DB_PASSWORD = fresh("dbpw");
const SECRETS = { TOKEN, LINK_PASSWORD, DB_PASSWORD };

const EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:roadtoll-pipeline:secrets-test";

interface Invocation {
  event: unknown;
  context: {
    awsRequestId: string;
    functionName: string;
    invokedFunctionArn: string;
    memoryLimitInMB: string;
  };
}

interface Described {
  name?: string;
  message?: string;
  stack?: string;
  cause?: Described;
  inspected: string;
}

type Outcome = { result: unknown } | { error: Described };

interface Run {
  fn: string;
  invocations: Invocation[];
  outcomes: Outcome[];
  stdout: string;
  stderr: string;
}

/**
 * What the Lambda base image does with `CMD ["index.handler"]`, in a child process: import index.mjs once (the
 * cold start), then call `handler(event, context)` for each invocation in turn. Results and errors go to a
 * file, so that stdout and stderr hold nothing but what the function itself wrote.
 */
const RUNNER = `
import { readFile, writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { inspect } from "node:util";
const [bundle, planFile, outFile] = process.argv.slice(2);
const describe = (error, depth = 0) =>
  error instanceof Error
    ? {
        name: error.name,
        message: error.message,
        stack: error.stack,
        ...(error.cause !== undefined && depth < 10 ? { cause: describe(error.cause, depth + 1) } : {}),
        inspected: inspect(error, { depth: 20 }),
      }
    : { inspected: inspect(error, { depth: 20 }) };
const plan = JSON.parse(await readFile(planFile, "utf8"));
const outcomes = [];
const { handler } = await import(pathToFileURL(bundle).href);
for (const { event, context } of plan) {
  try {
    outcomes.push({ result: await handler(event, { ...context, getRemainingTimeInMillis: () => 60000 }) });
  } catch (error) {
    outcomes.push({ error: describe(error) });
  }
}
await writeFile(outFile, JSON.stringify(outcomes));
// Pools and keep-alive sockets would keep the process up; Lambda freezes it instead.
process.exit(0);
`;

let outDir: string;
let storage: TestStorage;
let files: RunningFileServer;
let database: WireDatabase;
let runnerPath: string;
let linksFile: string;
let runs: Record<"ingest" | "deaths" | "deathsNoDatabase", Run>;

function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.username ||= "postgres";
  parsed.password = password;
  return parsed.toString();
}

async function run(
  fn: "ingest" | "deaths",
  invocations: Invocation[],
  env: Record<string, string>,
): Promise<Run> {
  const { taskRoot, env: imageEnv } = taskRootLikeImage(
    fn,
    join(outDir, `${fn}-${randomBytes(3).toString("hex")}`),
  );
  const planFile = join(taskRoot, "plan.json");
  const outFile = join(taskRoot, "outcomes.json");
  await writeFile(planFile, JSON.stringify(invocations));
  // Only what a Lambda would have: none of the test's own environment (its DATABASE_URL, POWERTOOLS_*, …).
  const { PATH, HOME, TMPDIR } = process.env;
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    [runnerPath, join(taskRoot, "index.mjs"), planFile, outFile],
    {
      cwd: taskRoot,
      maxBuffer: 64 * 1024 * 1024,
      env: {
        ...(PATH ? { PATH } : {}),
        ...(HOME ? { HOME } : {}),
        ...(TMPDIR ? { TMPDIR } : {}),
        LAMBDA_TASK_ROOT: taskRoot,
        AWS_LAMBDA_FUNCTION_NAME: `roadtoll-${fn}`,
        AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "S3RVER",
        AWS_SECRET_ACCESS_KEY: "S3RVER",
        ROADTOLL_BUCKET: storage.bucket,
        S3_ENDPOINT: storage.endpoint,
        S3_FORCE_PATH_STYLE: "true",
        LINKS_FILE: linksFile,
        DOWNLOAD_ALLOW_PRIVATE_HOSTS: "true",
        LOG_LEVEL: "debug",
        ...imageEnv,
        ...env,
      },
    },
  );
  const outcomes = JSON.parse(await readFile(outFile, "utf8")) as Outcome[];
  return { fn, invocations, outcomes, stdout, stderr };
}

const context = (awsRequestId: string, fn: string): Invocation["context"] => ({
  awsRequestId,
  functionName: `roadtoll-${fn}`,
  invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:roadtoll-${fn}`,
  memoryLimitInMB: "1024",
});

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), "roadtoll-secrets-"));
  [storage, files, database] = await Promise.all([
    startTestStorage("roadtoll-secrets"),
    startFileServer(join(root, "samples")),
    openWireDatabase(),
  ]);
  runnerPath = join(outDir, "runner.mjs");
  await writeFile(runnerPath, RUNNER);
  linksFile = join(outDir, "link.yml");
  await writeFile(linksFile, `Amostra: "${files.baseUrl}/amostra_via_norte.csv"\n`);
  const host = new URL(files.baseUrl).host;

  const ingest = await run(
    "ingest",
    [
      // As the state machine sends it: the envelope with the execution.
      {
        event: {
          link: { url: `${files.baseUrl}/amostra_via_norte.csv?token=${TOKEN}`, source: "Segredo" },
          execution: EXECUTION,
        },
        context: context("req-ingest-ok", "ingest"),
      },
      {
        event: { link: { url: `${files.baseUrl}/gone.csv?token=${TOKEN}` }, execution: EXECUTION },
        context: context("req-ingest-404", "ingest"),
      },
      {
        event: {
          link: { url: `http://reader:${LINK_PASSWORD}@${host}/amostra_via_norte.csv` },
          execution: EXECUTION,
        },
        context: context("req-ingest-userinfo", "ingest"),
      },
      {
        event: {
          link: { url: `ftp://reader:${LINK_PASSWORD}@${host}/x.csv?token=${TOKEN}` },
          execution: EXECUTION,
        },
        context: context("req-ingest-invalid", "ingest"),
      },
      // A direct invocation: a bare link, no execution.
      {
        event: { url: `${files.baseUrl}/amostra_via_norte.csv?X-Amz-Signature=${TOKEN}`, source: "Direto" },
        context: context("req-ingest-direct", "ingest"),
      },
    ],
    { DATABASE_URL: withPassword(database.url, DB_PASSWORD) },
  );
  const ingested = ingest.outcomes[0];
  if (!ingested || !("result" in ingested)) {
    throw new Error(
      `the first ingest failed: ${JSON.stringify(ingested)}\n${ingest.stdout}\n${ingest.stderr}`,
    );
  }
  // What ComputeDeaths gets: the ingest result, whole.
  const deathsEvent = ingested.result;
  const [deaths, deathsNoDatabase] = await Promise.all([
    run("deaths", [{ event: deathsEvent, context: context("req-deaths-ok", "deaths") }], {
      DATABASE_URL: withPassword(database.url, DB_PASSWORD),
    }),
    run("deaths", [{ event: deathsEvent, context: context("req-deaths-nodb", "deaths") }], {
      // Nothing listens on port 1: the write fails, and its error is logged.
      DATABASE_URL: `postgres://postgres:${DB_PASSWORD}@127.0.0.1:1/test`,
    }),
  ]);
  runs = { ingest, deaths, deathsNoDatabase };
});

afterAll(async () => {
  await files?.close();
  await storage?.close();
  await database?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

/** Every line a run wrote, parsed; a line that is not one JSON object fails the test, naming it. */
function outputLines(run: Run): Array<Record<string, unknown>> {
  return [...run.stdout.split("\n"), ...run.stderr.split("\n")]
    .filter((line) => line.trim() !== "")
    .map((line) => {
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        throw new Error(`${run.fn}: a log line that is not JSON: ${line}`);
      }
      expect(entry, line).toBeTypeOf("object");
      return entry as Record<string, unknown>;
    });
}

/** CloudWatch Embedded Metric Format lines (src/lambda/metrics.ts): metrics, not log lines. */
const isMetricLine = (line: Record<string, unknown>): boolean => typeof line._aws === "object";

function logLines(run: Run): Array<Record<string, unknown>> {
  return outputLines(run).filter((line) => !isMetricLine(line));
}

function metricLines(run: Run): Array<Record<string, unknown>> {
  return outputLines(run).filter(isMetricLine);
}

/** Each place a secret shows up in the given texts: `<secret name> in <where>`. */
function findSecrets(texts: Record<string, string>): string[] {
  const found: string[] = [];
  for (const [where, text] of Object.entries(texts)) {
    for (const [name, secret] of Object.entries(SECRETS)) {
      if (text.includes(secret)) found.push(`${name} in ${where}`);
    }
  }
  return found;
}

/** Everything a run shows: each output line, and each result or error, whole. */
function shown(run: Run, label: string): Record<string, string> {
  const texts: Record<string, string> = {};
  for (const [stream, text] of [
    ["stdout", run.stdout],
    ["stderr", run.stderr],
  ] as const) {
    text.split("\n").forEach((line, index) => {
      texts[`${label} ${stream} line ${index + 1}`] = line;
    });
  }
  run.outcomes.forEach((outcome, index) => {
    texts[`${label} outcome ${index + 1}`] = JSON.stringify(outcome);
  });
  return texts;
}

describe(`secrets never leave the functions (database: ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite over the wire"})`, () => {
  it("ran what it meant to: every secret went in, and each invocation ended as expected", () => {
    for (const [name, secret] of Object.entries(SECRETS)) {
      const given = JSON.stringify([runs.ingest.invocations, `postgres://postgres:${DB_PASSWORD}@`]);
      expect(given, name).toContain(secret);
    }
    const ends = (run: Run) =>
      run.outcomes.map((outcome) => ("result" in outcome ? "result" : (outcome.error.name ?? "?")));
    expect(ends(runs.ingest)).toEqual([
      "result",
      "DownloadError",
      "DownloadForbiddenError",
      "InvalidEventError",
      "result",
    ]);
    expect(ends(runs.deaths)).toEqual(["result"]);
    expect(ends(runs.deathsNoDatabase)).toEqual(["DatabaseUnavailableError"]);
    // The links are still recognisable, redacted.
    expect(runs.ingest.outcomes[0]).toMatchObject({
      result: { url: `${files.baseUrl}/amostra_via_norte.csv?token=***`, execution: EXECUTION },
    });
    expect(runs.ingest.outcomes[4]).toMatchObject({
      result: { url: `${files.baseUrl}/amostra_via_norte.csv?X-Amz-Signature=***` },
    });
    expect(runs.ingest.outcomes[4]).not.toHaveProperty("result.execution");
    expect(runs.deaths.outcomes[0]).toMatchObject({ result: { rowsWritten: expect.any(Number) } });
  });

  it("finds a secret when there is one (the scan is not blind)", () => {
    expect(findSecrets({ planted: `{"url":"https://h/a.csv?token=${TOKEN}"}` })).toEqual([
      "TOKEN in planted",
    ]);
    expect(findSecrets(shown(runs.ingest, "ingest")).length).toBe(0);
    const lines = Object.values(runs).reduce((count, run) => count + logLines(run).length, 0);
    // Two lines per invocation at debug (the event, then the outcome): 7 invocations.
    expect(lines).toBeGreaterThanOrEqual(14);
  });

  it("shows no secret in any log line, result or error of any run", () => {
    const texts = {
      ...shown(runs.ingest, "ingest"),
      ...shown(runs.deaths, "deaths"),
      ...shown(runs.deathsNoDatabase, "deaths (no database)"),
    };
    expect(Object.keys(texts).length).toBeGreaterThan(20);
    expect(findSecrets(texts)).toEqual([]);
    // The logged links are there, redacted: the lines did log them.
    const logged = [runs.ingest.stdout, runs.ingest.stderr].join("\n");
    expect(logged).toContain(`${files.baseUrl}/amostra_via_norte.csv?token=***`);
    expect(logged).toContain(`${files.baseUrl}/gone.csv?token=***`);
    expect(logged).toContain(`http://***@${new URL(files.baseUrl).host}/amostra_via_norte.csv`);
  });

  it("keeps them out of S3 too: no key or metadata holds one", async () => {
    const keys = await storage.keys();
    expect(keys.length).toBeGreaterThan(0);
    const texts: Record<string, string> = {};
    for (const key of keys) {
      const head = await storage.s3.send(new HeadObjectCommand({ Bucket: storage.bucket, Key: key }));
      texts[`s3://${storage.bucket}/${key}`] = JSON.stringify({ key, metadata: head.Metadata });
    }
    expect(Object.values(texts).join("\n")).toContain("?token=***");
    expect(findSecrets(texts)).toEqual([]);
  });

  it("logs JSON lines with the level, the request id, the cold start and the execution as correlation id", () => {
    for (const run of Object.values(runs)) {
      const lines = logLines(run);
      run.invocations.forEach((invocation, index) => {
        const requestId = invocation.context.awsRequestId;
        const mine = lines.filter((line) => line.function_request_id === requestId);
        const outcome = run.outcomes[index] as Outcome;
        expect(
          mine.map((line) => [line.level, line.message]),
          `${run.fn} ${requestId}`,
        ).toEqual([
          ["DEBUG", "invocation"],
          "result" in outcome ? ["INFO", "succeeded"] : ["ERROR", "failed"],
        ]);
        for (const line of mine) {
          expect(line, `${run.fn} ${requestId}`).toMatchObject({
            service: "roadtoll",
            step: run.fn,
            function_name: `roadtoll-${run.fn}`,
            // The first invocation after the module loaded is the cold start.
            cold_start: index === 0,
            timestamp: expect.any(String),
          });
          const event = invocation.event as { execution?: string };
          if (event.execution) expect(line.correlation_id, `${run.fn} ${requestId}`).toBe(event.execution);
          else expect(line, `${run.fn} ${requestId}`).not.toHaveProperty("correlation_id");
        }
        const last = mine.at(-1) as Record<string, unknown>;
        if ("error" in outcome) {
          expect(last.error).toEqual({ name: outcome.error.name, message: outcome.error.message });
          expect(last.event).toBeDefined();
        } else {
          expect(last.durationMs).toBeTypeOf("number");
          expect(last.result).toBeDefined();
        }
      });
      // Every line belongs to an invocation: nothing else was written.
      expect(lines.every((line) => typeof line.function_request_id === "string")).toBe(true);
    }
    // The deaths step gets the execution through the ingest result, and logs it too.
    for (const line of logLines(runs.deaths)) expect(line.correlation_id).toBe(EXECUTION);
    for (const line of logLines(runs.deathsNoDatabase)) expect(line.correlation_id).toBe(EXECUTION);
  });

  it("writes one metric line per invocation, naming no link: only counts, the source and error names", () => {
    for (const run of Object.values(runs)) {
      const metrics = metricLines(run);
      expect(metrics, run.fn).toHaveLength(run.invocations.length);
      for (const line of metrics) {
        // The secret scan above covers these lines too; a URL, even redacted, has no business here.
        expect(JSON.stringify(line), run.fn).not.toMatch(/:\/\/|\?|@/);
        expect(line, run.fn).toMatchObject({ service: run.fn, function_name: `roadtoll-${run.fn}` });
      }
    }
    expect(metricLines(runs.deathsNoDatabase)[0]).toMatchObject({
      Errors: 1,
      error: "DatabaseUnavailableError",
    });
    expect(metricLines(runs.deaths)[0]).toMatchObject({
      RowsRead: expect.any(Number),
      source: expect.any(String),
    });
  });
});
