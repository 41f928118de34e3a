import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { DownloadConfig } from "../adapters/http-download.js";
import { createDownloader } from "../adapters/http-download.js";
import type { Links, LinksProvider } from "../adapters/links.js";
import { createApiApp } from "../api/app.js";
import { createDeathsFunctionHandler } from "../handlers/deaths-function.js";
import { createIngestHandler } from "../handlers/ingest-handler.js";
import { createListLinksHandler } from "../handlers/list-links-handler.js";
import { matchesLandingRule } from "../pipeline/keys.js";
import { stateObjectLookup } from "../pipeline/source-state.js";
import { type LocalEnvironmentOptions, startLocalEnvironment } from "./environment.js";
import { startHttpServer } from "./http-server.js";
import { LocalExecutions } from "./local-executions.js";
import { loopbackGuard } from "./loopback-guard.js";
import { deathsFunctionTasks, runStateMachine } from "./state-machine.js";
import { validatedDefinitionsIn } from "./validated-definitions.js";

export interface ServeOptions
  extends Pick<
    LocalEnvironmentOptions,
    "bucket" | "dataDir" | "s3Endpoint" | "s3Credentials" | "region" | "databaseUrl"
  > {
  /** 0 picks a free port. */
  port: number;
  /** link.yml, or what reads it when a run first needs it (linksFromFile). */
  links: Links | LinksProvider;
  download: DownloadConfig;
  maxRejectShare: number;
  maxRoadYears?: number | undefined;
  /** The bundled samples' SHA-256, left out of the curated publication (DeathsDeps.sampleDigests). */
  sampleDigests?: readonly string[] | undefined;
  uploadUrlTtlSeconds: number;
  /** Runs at once; more wait their turn (default: DEFAULT_MAX_RUNS). */
  maxRuns?: number | undefined;
  log: (line: string) => void;
}

/** Each run holds a file's rows in flight and a database connection: two at once keep a laptop responsive. */
export const DEFAULT_MAX_RUNS = 2;

export interface RunningServe {
  /** The API's base URL, on 127.0.0.1. */
  url: string;
  s3Endpoint: string;
  databaseLabel: string;
  executions: LocalExecutions;
  /** Stops taking requests, lets the runs under way finish, then stops S3 and the database. */
  close(): Promise<void>;
}

/**
 * `roadtoll serve`: the HTTP API of the Lambda, on this machine, over the embedded S3 and Postgres. An object
 * created under landing/ in the embedded S3 starts an execution with the input the EventBridge rule sends
 * (`{"object": {"bucket", "key"}}`), so an upload through a presigned URL runs exactly as it does in AWS.
 */
export async function startServe(options: ServeOptions): Promise<RunningServe> {
  const { log } = options;
  let onLanding: (key: string) => void = () => {};
  const env = await startLocalEnvironment({
    ...options,
    onObjectCreated: ({ bucket, key }) => {
      if (bucket === options.bucket && matchesLandingRule(key)) onLanding(key);
    },
  });
  try {
    const tasks = {
      ListLinks: createListLinksHandler(async () =>
        typeof options.links === "function" ? options.links() : options.links,
      ),
      Ingest: createIngestHandler({
        store: env.store,
        download: createDownloader(options.download),
        links: options.links,
        maxObjectBytes: options.download.maxBytes,
        lastRun: stateObjectLookup(env.store),
      }),
      // ComputeDeaths, and PublishCurated after every link: one function, as in AWS.
      ...deathsFunctionTasks(
        createDeathsFunctionHandler({
          store: env.store,
          db: env.db,
          maxRejectShare: options.maxRejectShare,
          maxRoadYears: options.maxRoadYears,
          sampleDigests: options.sampleDigests,
        }),
      ),
    };
    const validated = validatedDefinitionsIn(options.dataDir);
    const executions = new LocalExecutions({
      directory: join(options.dataDir, "executions"),
      run: (input, executionArn) => runStateMachine({ input, tasks, executionId: executionArn, validated }),
      concurrency: options.maxRuns ?? DEFAULT_MAX_RUNS,
      onChange: (event, run) => log(describeChange(event, run)),
    });
    const start = (input: Parameters<LocalExecutions["start"]>[1], why: string) => {
      const id = randomUUID();
      log(`run ${id} for ${why}`);
      return executions.start(id, input).catch((error: unknown) => {
        log(`run for ${why} not started: ${(error as Error).message}`);
      });
    };
    onLanding = (key) =>
      void start({ object: { bucket: options.bucket, key } }, `s3://${options.bucket}/${key}`);
    if (options.s3Endpoint) {
      log(
        "landing/ objects start no run: --s3-endpoint has no object events (use the embedded S3 for uploads)",
      );
    }
    let port = 0;
    const app = createApiApp({
      executions,
      store: env.store,
      uploadUrlTtlSeconds: options.uploadUrlTtlSeconds,
      uploadMaxBytes: options.download.maxBytes,
      onError: (error) =>
        log(`request failed: ${error instanceof Error ? `${error.name}: ${error.message}` : error}`),
      guard: loopbackGuard(() => port),
    });
    const server = await startHttpServer(app.fetch, options.port);
    port = server.port;
    return {
      url: server.url,
      s3Endpoint: env.s3Endpoint,
      databaseLabel: env.databaseLabel,
      executions,
      close: async () => {
        onLanding = () => {};
        await server.close();
        if (executions.active > 0) log(`waiting for ${executions.active} run(s) to finish`);
        await executions.idle();
        await env.close();
      },
    };
  } catch (error) {
    await env.close();
    throw error;
  }
}

/** One log line for a run's change: `run ID started`, `run ID SUCCEEDED in 3.2 s`, `… FAILED in 1.0 s: DownloadError`. */
function describeChange(
  event: "queued" | "started" | "stopped",
  run: {
    id: string;
    status: string;
    startedAt: string;
    stoppedAt?: string | undefined;
    error?: { error: string } | undefined;
  },
): string {
  if (event !== "stopped") return `run ${run.id} ${event === "queued" ? "waits for a free slot" : "started"}`;
  const seconds = (Date.parse(run.stoppedAt ?? run.startedAt) - Date.parse(run.startedAt)) / 1000;
  return `run ${run.id} ${run.status} in ${seconds.toFixed(1)} s${run.error ? `: ${run.error.error}` : ""}`;
}
