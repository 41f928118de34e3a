import { once } from "node:events";
import { parseArgs } from "node:util";
import { linksFromFile } from "../../adapters/links.js";
import { loadDownloadConfig, UPLOAD_URL_TTL } from "../../config.js";
import { DEFAULT_MAX_RUNS, startServe } from "../../local/serve.js";
import { ENVIRONMENT_OPTIONS, parseCliArgs, SERVE_OPTIONS } from "../args.js";
import type { CliIo } from "../run.js";
import { sampleDigests } from "../samples.js";
import { withOptionSuggestion } from "../suggest.js";
import { UsageError } from "../usage.js";
import { dataDirPath } from "../user-paths.js";

export const SERVE_USAGE = `Usage: roadtoll serve [--port N] [options]     (npm start -- serve [options])

Runs the HTTP API of the AWS deployment on 127.0.0.1, over the embedded S3 (s3rver) and Postgres (PGlite), until
Ctrl-C. A CSV put under landing/ in the embedded S3 (through a presigned URL from POST /uploads, or any S3 client)
starts a run, as the EventBridge rule does in AWS.

  POST /uploads  {"name": "VIA_SUL.csv", "bytes": N, "source"?: "VIA_SUL"}  → 201 {key, uploadUrl, …}
  POST /runs     {"links": [{"source": "Via_Bahia"}, {"url": "https://…"}]} or {"all": true}  → 202 {id}
  GET  /runs/ID  → {id, status, startedAt, stoppedAt?, output? | error?}
  GET  /runs?source=NAME[&limit=N]  → {runs: [...]}, newest first
  GET  /openapi.json

Options:
  --port N            the API's port on 127.0.0.1 (default: 8080; 0 picks a free one)
  --max-runs N        runs at once, 1 to 32; more wait their turn (default: ${DEFAULT_MAX_RUNS})
  --upload-ttl S      seconds a presigned upload URL works, ${UPLOAD_URL_TTL.minSeconds} to ${UPLOAD_URL_TTL.maxSeconds} (default: ${UPLOAD_URL_TTL.defaultSeconds})
  --s3-endpoint URL   use this S3-compatible server (no landing/ events: uploads then start no run)
  --database-url URL  use this Postgres instead of PGlite (default: $DATABASE_URL if set)
  --data-dir DIR      where s3rver, PGlite and the runs' records are kept (default: .roadtoll)
  --bucket NAME       bucket name (default: roadtoll-local)
  --max-reject-share N, --max-download-bytes N   as for roadtoll (roadtoll --help)
  -h, --help          this text

The API has no authorization here: it listens on 127.0.0.1 only, and refuses requests addressed to another host
name or sent by a web page of another origin. Exit code: 0 after Ctrl-C, 1 when it cannot
start, 2 on bad usage.`;

/** `roadtoll serve`: resolves with the exit code once a signal (SIGINT, SIGTERM) stops the server. */
export async function runServe(argv: readonly string[], io: CliIo): Promise<number> {
  let port: number;
  let ttl: number;
  let maxRuns: number;
  let common: ReturnType<typeof parseCliArgs>;
  try {
    const { values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: SERVE_OPTIONS,
    });
    if (values.help) {
      io.stdout(`${SERVE_USAGE}\n`);
      return 0;
    }
    port = integer("--port", values.port ?? "8080", 0, 65_535);
    maxRuns = integer("--max-runs", values["max-runs"] ?? String(DEFAULT_MAX_RUNS), 1, 32);
    ttl = integer(
      "--upload-ttl",
      values["upload-ttl"] ?? String(UPLOAD_URL_TTL.defaultSeconds),
      UPLOAD_URL_TTL.minSeconds,
      UPLOAD_URL_TTL.maxSeconds,
    );
    // The flags the pipeline command shares are read (and checked) the way it reads them.
    common = parseCliArgs(
      Object.keys(ENVIRONMENT_OPTIONS).flatMap((name) => {
        const value = values[name as keyof typeof values];
        return typeof value === "string" ? [`--${name}`, value] : [];
      }),
      io.env,
    );
  } catch (error) {
    const message = withOptionSuggestion((error as Error).message, Object.keys(SERVE_OPTIONS));
    io.stderr(`roadtoll serve: ${message}\nRun \`roadtoll serve --help\` for the options.\n`);
    return 2;
  }

  const loaded = loadDownloadConfig({ ...io.env, LAMBDA_TASK_ROOT: io.root });
  const download = {
    ...loaded,
    maxBytes: common.maxDownloadBytes ?? loaded.maxBytes,
    // As for `npm start`: links on this machine (127.0.0.1) may be run; other private addresses stay refused.
    addressPolicy: loaded.addressPolicy === "private" ? ("private" as const) : ("loopback" as const),
  };
  const log = (line: string) => io.stderr(`${line}\n`);
  const running = await startServe({
    port,
    bucket: common.bucket,
    dataDir: dataDirPath(io, common.dataDir),
    ...(common.s3Endpoint ? { s3Endpoint: common.s3Endpoint } : {}),
    ...(common.databaseUrl ? { databaseUrl: common.databaseUrl } : {}),
    links: linksFromFile(download.linksFile),
    download,
    maxRejectShare: common.maxRejectShare,
    maxRoadYears: common.maxRoadYears,
    sampleDigests: await sampleDigests(io.root),
    uploadUrlTtlSeconds: ttl,
    maxRuns,
    log,
  });
  log(`s3: ${running.s3Endpoint} · database: ${running.databaseLabel}`);
  io.stdout(`roadtoll API listening on ${running.url} (Ctrl-C stops it)\n`);
  const signal = await Promise.race([once(process, "SIGINT"), once(process, "SIGTERM")]);
  log(`stopping (${signal[0] ?? "signal"}): the runs under way finish first; a second Ctrl-C abandons them`);
  const now = () => {
    log("stopping now: the runs under way are abandoned (their unfinished uploads go at the next start)");
    process.exit(130);
  };
  process.once("SIGINT", now);
  process.once("SIGTERM", now);
  await running.close();
  process.off("SIGINT", now);
  process.off("SIGTERM", now);
  return 0;
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max)) {
    throw new UsageError(
      `${flag}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}
