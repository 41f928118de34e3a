/**
 * End to end through the real handlers: each file is served over HTTP on loopback, ingested by the ingest
 * handler (undici download → cleanCsv → two multipart uploads to s3rver) and counted by the deaths handler
 * (S3 read → computeDeaths → rejects upload → Postgres snapshot). Everything runs in this process, as in
 * `npm start`, so the memory peak covers s3rver and the database too.
 */
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDownloader } from "../src/adapters/http-download.js";
import { loadDownloadConfig } from "../src/config.js";
import { createDeathsHandler } from "../src/handlers/deaths-handler.js";
import { createIngestHandler } from "../src/handlers/ingest-handler.js";
import { startLocalEnvironment } from "../src/local/environment.js";
import { startFileServer } from "../src/local/file-server.js";
import { startMemorySampler } from "./memory.js";

export interface FileSet {
  label: string;
  directory: string;
}

export interface FileMeasurement {
  set: string;
  file: string;
  bytes: number;
  rows: number;
  rejected: number;
  deaths: number;
  ingestSeconds: number;
  deathsSeconds: number;
}

export interface EndToEndRun {
  database: string;
  files: FileMeasurement[];
  /** Wall time of the whole run, environment start-up included. */
  seconds: number;
  setupSeconds: number;
  /** Process memory once the environment is up (s3rver + database), before the first file. */
  afterSetup: { rss: number; heapUsed: number };
  peak: { rss: number; heapUsed: number };
}

const BUCKET = "roadtoll-bench";

/** CSV files of a folder, sorted by name. */
export async function csvFiles(directory: string): Promise<string[]> {
  return (await readdir(directory)).filter((name) => name.toLowerCase().endsWith(".csv")).sort();
}

export async function runEndToEnd(
  sets: readonly FileSet[],
  options: { databaseUrl?: string; log: (line: string) => void },
): Promise<EndToEndRun> {
  const sampler = startMemorySampler(20);
  const started = performance.now();
  const dataDir = await mkdtemp(join(tmpdir(), "roadtoll-bench-"));
  const env = await startLocalEnvironment({
    bucket: BUCKET,
    dataDir,
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
  });
  const setupSeconds = (performance.now() - started) / 1000;
  const { rss, heapUsed } = process.memoryUsage();
  const afterSetup = { rss, heapUsed };
  options.log(
    `  environment: s3rver at ${env.s3Endpoint}, ${env.databaseLabel} (${setupSeconds.toFixed(2)}s)`,
  );
  const files: FileMeasurement[] = [];
  try {
    const ingest = createIngestHandler({
      store: env.store,
      download: createDownloader(loadDownloadConfig({})),
      links: {},
    });
    const deaths = createDeathsHandler({ store: env.store, db: env.db });
    for (const set of sets) {
      const server = await startFileServer(set.directory);
      try {
        for (const file of await csvFiles(set.directory)) {
          const size = (await stat(join(set.directory, file))).size;
          const t0 = performance.now();
          const ingested = await ingest({ url: `${server.baseUrl}/${encodeURIComponent(file)}` });
          const t1 = performance.now();
          const summary = await deaths(ingested);
          const t2 = performance.now();
          if (ingested.bytes !== size)
            throw new Error(`${file}: ingested ${ingested.bytes} of ${size} bytes`);
          const measurement: FileMeasurement = {
            set: set.label,
            file,
            bytes: ingested.bytes,
            rows: ingested.rows,
            rejected: summary.rowsRejected,
            deaths: summary.totalDeaths,
            ingestSeconds: (t1 - t0) / 1000,
            deathsSeconds: (t2 - t1) / 1000,
          };
          files.push(measurement);
          options.log(
            `  ${set.label}/${file}: ${(size / 1e6).toFixed(2)} MB, ${ingested.rows} rows, ingest ` +
              `${measurement.ingestSeconds.toFixed(2)}s, deaths ${measurement.deathsSeconds.toFixed(2)}s`,
          );
        }
      } finally {
        await server.close();
      }
    }
  } finally {
    await env.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  const peak = sampler.stop();
  return {
    database: env.databaseLabel.replace(dataDir, "<tmp>"),
    files,
    seconds: (performance.now() - started) / 1000,
    setupSeconds,
    afterSetup,
    peak: { rss: peak.rss, heapUsed: peak.heapUsed },
  };
}
