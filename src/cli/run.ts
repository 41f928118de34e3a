import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createDownloader } from "../adapters/http-download.js";
import { type Links, loadLinks } from "../adapters/links.js";
import type { ObjectStore } from "../adapters/object-store.js";
import { redactUrl } from "../adapters/redact.js";
import { loadDownloadConfig } from "../config.js";
import { RoadtollError } from "../errors.js";
import { createDeathsFunctionHandler } from "../handlers/deaths-function.js";
import { createIngestHandler } from "../handlers/ingest-handler.js";
import type { CuratedResult } from "../handlers/publish-curated-handler.js";
import { startLocalEnvironment } from "../local/environment.js";
import { type RunningFileServer, startFileServer } from "../local/file-server.js";
import { LocalExecutions } from "../local/local-executions.js";
import {
  deathsFunctionTasks,
  type ExecutionEvent,
  type ExecutionOutcome,
  runStateMachine,
} from "../local/state-machine.js";
import { validatedDefinitionsIn } from "../local/validated-definitions.js";
import type { DeathsSummary } from "../pipeline/deaths-step.js";
import { type LinkRef, resolveLink } from "../pipeline/ingest-link.js";
import { type CliOptions, parseCliArgs, USAGE, USAGE_HINT } from "./args.js";
import { downloadProgress } from "./download-progress.js";
import { onInterrupt } from "./interrupt.js";
import { renderResults } from "./run-summary.js";
import { sampleDigests } from "./samples.js";
import { dataDirPath } from "./user-paths.js";

export interface CliIo {
  /** May return a promise when the output is full: a command printing rows by the page awaits it. */
  stdout: (text: string) => void | Promise<void>;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Repository root: link.yml, samples/ and the default data directory are found there. */
  root: string;
  /** The user's working directory, which the paths they give resolve against (default: process.cwd()). */
  cwd?: string;
  /**
   * Whether stderr is a terminal: a download progress line is drawn only then. Default: true only for the process's
   * own environment (`env` is `process.env`, as main.ts passes it) on a TTY stderr, so captured output never has it.
   */
  stderrIsTTY?: boolean;
}

/** The `roadtoll` command. Returns the process exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let options: CliOptions;
  try {
    options = parseCliArgs(argv, io.env);
  } catch (error) {
    io.stderr(`roadtoll: ${(error as Error).message}\n${USAGE_HINT}\n`);
    return 2;
  }
  if (options.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  const progress = downloadProgress(io.stderr, {
    enabled: io.stderrIsTTY ?? (io.env === process.env && process.stderr.isTTY === true),
  });
  const log = (line: string) => progress.log(line);
  const loaded = loadDownloadConfig({ ...io.env, LAMBDA_TASK_ROOT: io.root });
  const downloadConfig = {
    ...loaded,
    maxBytes: options.maxDownloadBytes ?? loaded.maxBytes,
    // The samples are served on 127.0.0.1, so the local runner reaches loopback; a Lambda never does.
    addressPolicy: loaded.addressPolicy === "private" ? ("private" as const) : ("loopback" as const),
  };
  const links = await loadLinks(downloadConfig.linksFile);
  // Checked before any server starts: a name link.yml does not have is bad usage, not a failed execution.
  const unknown = options.sources.filter((source) => !Object.hasOwn(links, source));
  if (unknown.length > 0) {
    io.stderr(
      `roadtoll: --source ${unknown.map((name) => JSON.stringify(name)).join(", ")}: no such link in link.yml (known: ${Object.keys(links).join(", ") || "none"})\n${USAGE_HINT}\n`,
    );
    return 2;
  }

  let samples: RunningFileServer | undefined;
  const requested = linkRefs(options, links);
  // Two links under one name would each replace the other's figures in turn: which one counts would be chance.
  const seen = new Set<string>();
  for (const ref of requested) {
    const name = displayName(ref, links);
    if (seen.has(name)) {
      io.stderr(
        `roadtoll: two links are named ${JSON.stringify(name)} in one run; give each its own name (--link NAME=URL)\n${USAGE_HINT}\n`,
      );
      return 2;
    }
    seen.add(name);
  }
  if (requested.length === 0) {
    samples = await startFileServer(join(io.root, "samples"));
    const files = (await readdir(join(io.root, "samples"))).filter((file) => file.endsWith(".csv")).sort();
    requested.push(...files.map((file) => ({ url: `${samples?.baseUrl}/${file}` })));
    log(`no link given: serving the bundled samples at ${samples.baseUrl}`);
  }

  const dataDir = dataDirPath(io, options.dataDir);
  let env: Awaited<ReturnType<typeof startLocalEnvironment>>;
  try {
    env = await startLocalEnvironment({
      bucket: options.bucket,
      dataDir,
      ...(options.s3Endpoint ? { s3Endpoint: options.s3Endpoint } : {}),
      ...s3Settings(io.env),
      ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
      log,
    });
  } catch (error) {
    // The samples server would otherwise keep the process alive after the error is printed.
    await samples?.close();
    throw error;
  }
  const stopOnInterrupt = onInterrupt(async (signal) => {
    log(
      `interrupted (${signal}): stopping; links that finished keep their figures, the one under way writes nothing`,
    );
    await env.close();
    await samples?.close();
  });
  try {
    const started = Date.now();
    log(
      downloadConfig.addressPolicy === "private"
        ? "downloads: any address allowed (DOWNLOAD_ALLOW_PRIVATE_HOSTS=true)"
        : "downloads: public addresses and loopback (this machine) allowed; other private addresses refused",
    );
    log(`running statemachine/pipeline.asl.json on ${requested.length} link(s)`);
    const urlNames = new Map(
      requested.flatMap((ref) => {
        try {
          const { url, source } = resolveLink(ref, links);
          return [[url, source] as const];
        } catch {
          return [];
        }
      }),
    );
    const printer = progressPrinter(log, {
      names: requested.map((ref) => displayName(ref, links)),
      verbose: options.verbose,
    });
    const validated = validatedDefinitionsIn(dataDir);
    // Recorded where `roadtoll serve` keeps its runs: GET /runs/{id} finds this one too.
    const executions = new LocalExecutions({
      directory: join(dataDir, "executions"),
      run: (input, executionArn) =>
        runStateMachine({ input, tasks, executionId: executionArn, onEvent: printer, validated }),
    });
    const tasks = {
      Ingest: createIngestHandler({
        store: env.store,
        download: progress.wrap(
          createDownloader(downloadConfig),
          (url) => urlNames.get(url) ?? redactUrl(url),
        ),
        links,
      }),
      // ComputeDeaths, and PublishCurated after every link: one function, as in AWS.
      ...deathsFunctionTasks(
        createDeathsFunctionHandler({
          store: env.store,
          db: env.db,
          maxRejectShare: options.maxRejectShare,
          maxRoadYears: options.maxRoadYears,
          sampleDigests: await sampleDigests(io.root),
          allowDuplicates: options.allowDuplicates,
        }),
      ),
    };
    const outcome = await executions.run(randomUUID(), { links: requested });
    printer.flush();
    log(`execution ${outcome.status} in ${seconds(Date.now() - started)}`);
    await report(outcome, options.json, io, requested, env.store, dataDir);
    return outcome.status === "SUCCEEDED" ? 0 : 1;
  } finally {
    stopOnInterrupt();
    await env.close();
    await samples?.close();
  }
}

/**
 * The region and keys for --s3-endpoint, from the CLI's environment: AWS_REGION, and AWS_ACCESS_KEY_ID with
 * AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN). Without the keys the SDK's default chain looks for them
 * (AWS_PROFILE, ~/.aws/credentials, …).
 */
function s3Settings(env: NodeJS.ProcessEnv) {
  const { AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN } = env;
  return {
    ...(AWS_REGION ? { region: AWS_REGION } : {}),
    ...(AWS_ACCESS_KEY_ID && AWS_SECRET_ACCESS_KEY
      ? {
          s3Credentials: {
            accessKeyId: AWS_ACCESS_KEY_ID,
            secretAccessKey: AWS_SECRET_ACCESS_KEY,
            ...(AWS_SESSION_TOKEN ? { sessionToken: AWS_SESSION_TOKEN } : {}),
          },
        }
      : {}),
  };
}

function linkRefs(options: CliOptions, links: Links): LinkRef[] {
  return [
    ...options.links.map((link) => ({ ...link })),
    ...options.sources.map((source) => ({ source })),
    ...(options.all ? Object.keys(links).map((source) => ({ source })) : []),
  ];
}

async function report(
  outcome: ExecutionOutcome,
  json: boolean,
  io: CliIo,
  requested: readonly LinkRef[],
  store: ObjectStore,
  dataDir: string,
): Promise<void> {
  if (json) {
    io.stdout(`${JSON.stringify(outcome.status === "SUCCEEDED" ? outcome.output : outcome, null, 2)}\n`);
    return;
  }
  if (outcome.status === "SUCCEEDED") {
    const { results, curated } = outcome.output as {
      results: Array<{ summary?: { key?: string } }>;
      curated?: CuratedResult;
    };
    io.stdout(`${renderResults(await readSummaries(store, summaryKeys(results)))}\n`);
    const duplicates = describeDuplicates(results as LinkOutcome[], requested);
    if (duplicates) io.stdout(`\n${duplicates}\n`);
    // PublishCurated rebuilt it from the whole database, this run's sources and every earlier one's.
    if (curated) {
      // A file a browser opens: the embedded S3 is gone once the run ends, and an s3:// URL opens nowhere.
      const file = join(dataDir, "report.html");
      await mkdir(dataDir, { recursive: true });
      await pipeline(await store.read(curated.report), createWriteStream(file));
      io.stdout(`\nreport: ${file} (open it in a browser; also s3://${store.bucket}/${curated.report})\n`);
    }
    return;
  }
  // The links that succeeded wrote their rows and summaries: their table is shown before the failures.
  const keys = summaryKeys((outcome.results ?? []) as Array<{ summary?: { key?: string } }>);
  const succeeded = keys.length > 0 ? `${renderResults(await readSummaries(store, keys))}\n\n` : "";
  // With the links' outcomes listed, LinkFailed's cause (the same list) says nothing more; any other error's does
  // (CuratedPublishFailed: why curated/ was not written).
  const headline =
    outcome.results === undefined || outcome.error === "LinkFailed"
      ? outcome.error
      : `${outcome.error}: ${outcome.cause}`;
  io.stdout(
    `${succeeded}Execution failed: ${headline}\n${describeFailure(outcome.results, outcome.cause, requested)}\n`,
  );
}

function summaryKeys(results: ReadonlyArray<{ summary?: { key?: string } } | null | undefined>): string[] {
  return results.flatMap((result) => (result?.summary?.key ? [result.summary.key] : []));
}

/**
 * The execution output holds each link's counts and the key of its full summary (worst roads, reject samples), which
 * the deaths step wrote to the bucket: read back here, in the links' order.
 */
async function readSummaries(store: ObjectStore, keys: readonly string[]): Promise<DeathsSummary[]> {
  const summaries: DeathsSummary[] = [];
  for (const key of keys) {
    const text = await store.readText(key);
    if (text === undefined) {
      throw new RoadtollError(
        "ObjectNotFoundError",
        `s3://${store.bucket}/${key}: the run's summary is missing`,
        {
          where: { resource: key },
        },
      );
    }
    summaries.push(JSON.parse(text) as DeathsSummary);
  }
  return summaries;
}

interface LinkOutcome {
  link: { index: number; source?: string; url?: string };
  status: string;
  error?: string;
  cause?: string;
  duplicateOf?: string;
}

/** The links whose file another source's current figures already count: not in the table, and why. */
function describeDuplicates(results: readonly LinkOutcome[], requested: readonly LinkRef[]): string {
  const lines = results
    .filter((item) => item?.status === "duplicate")
    .map(
      (item) =>
        `  ${linkName(requested[item.link.index], item.link)}: the same file (SHA-256) as ${item.duplicateOf}'s ` +
        "current figures; nothing written, so no death is counted twice (--allow-duplicates to write it anyway)",
    );
  return lines.length > 0 ? ["Duplicates (not counted again)", ...lines].join("\n") : "";
}

/**
 * Every link's outcome, one line each, named as the user gave it (redacted); the state machine itself names links
 * by position only. The outcomes come from the Map's own output when the runner has it (see ExecutionOutcome),
 * else from the failure cause, which lists them as JSON.
 */
function describeFailure(
  results: unknown[] | undefined,
  cause: string,
  requested: readonly LinkRef[],
): string {
  let outcomes: LinkOutcome[] | undefined = results as LinkOutcome[] | undefined;
  if (!outcomes) {
    try {
      const parsed = JSON.parse(cause) as unknown;
      if (Array.isArray(parsed)) outcomes = parsed as LinkOutcome[];
    } catch {
      // Not the pipeline's own cause (e.g. a States.* runtime error): printed as it is, below.
    }
  }
  if (!outcomes) return `  ${cause}`;
  return outcomes
    .map((item) => {
      const name = linkName(requested[item.link.index], item.link);
      if (item.status === "failed") return `  ✘ ${name}: ${item.error}: ${item.cause}`;
      return item.status === "duplicate"
        ? `  ✔ ${name}: duplicate of ${item.duplicateOf}, nothing written`
        : `  ✔ ${name}: ${item.status}`;
    })
    .join("\n");
}

function linkName(ref: LinkRef | undefined, shown: LinkOutcome["link"]): string {
  const url = ref?.url === undefined ? shown.url : redactUrl(ref.url);
  const source = ref?.source ?? shown.source;
  if (source !== undefined && url !== undefined) return `${source} (${url})`;
  return source ?? url ?? `link ${shown.index}`;
}

/** The states that do work: the only ones shown without --verbose (the others are Choice and Pass plumbing). */
const TASK_STATES = new Set(["ListLinks", "Ingest", "ComputeDeaths", "PublishCurated"]);

/** How a link is shown in the log: its source name (link.yml's, the one given with NAME=URL, or the URL's file). */
function displayName(ref: LinkRef, links: Links): string {
  try {
    return resolveLink(ref, links).source;
  } catch {
    return ref.source ?? "link";
  }
}

export interface ProgressPrinter {
  (event: ExecutionEvent): void;
  /** Prints a failure no state caught or retried (the execution ended on it). */
  flush(): void;
}

/**
 * The progress log: ▶ when a state starts, ✔ when it ends well, ✘ when it fails (caught or not), ↻ before a retry.
 * A caught failure's state still "exits" in the runner; that exit is not a success and prints nothing more.
 */
export function progressPrinter(
  log: (line: string) => void,
  options: { names?: readonly string[]; verbose?: boolean } = {},
): ProgressPrinter {
  const started = new Map<string, number>();
  /** Failures not yet printed: a retry or a catch may follow. */
  const pending = new Map<string, { where: string; error?: string; cause?: string }>();
  /** States whose failure was printed: their exit (or a later catch) prints nothing more. */
  const reported = new Set<string>();
  const shown = (state: string) => options.verbose === true || TASK_STATES.has(state);
  const report = (key: string, item: { where: string; error?: string; cause?: string }) => {
    pending.delete(key);
    reported.add(key);
    log(`✘ ${item.where}: ${item.error ?? "failed"}${item.cause ? `: ${item.cause}` : ""}`);
  };
  const printer = ((event: ExecutionEvent) => {
    if (!shown(event.state)) return;
    const key = `${event.iteration ?? "-"}:${event.state}`;
    const name =
      event.iteration === undefined
        ? undefined
        : (options.names?.[event.iteration] ?? `link ${event.iteration}`);
    const where = name === undefined ? event.state : `[${name}] ${event.state}`;
    switch (event.type) {
      case "entered":
        started.set(key, event.timestamp);
        pending.delete(key);
        reported.delete(key);
        log(`▶ ${where}`);
        break;
      case "exited": {
        const failure = pending.get(key);
        if (failure) report(key, failure);
        else if (!reported.has(key)) {
          log(`✔ ${where} (${seconds(event.timestamp - (started.get(key) ?? event.timestamp))})`);
        }
        break;
      }
      case "failed":
        pending.set(key, {
          where,
          ...(event.error === undefined ? {} : { error: event.error }),
          ...(event.cause === undefined ? {} : { cause: event.cause }),
        });
        break;
      case "retried": {
        const failure = pending.get(key);
        pending.delete(key);
        log(`↻ ${where} retrying${failure?.error ? ` after ${failure.error}` : ""}`);
        break;
      }
      case "caught":
        if (!reported.has(key)) report(key, pending.get(key) ?? { where });
        break;
    }
  }) as ProgressPrinter;
  printer.flush = () => {
    for (const [key, item] of pending) report(key, item);
  };
  return printer;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)}s`;
}
