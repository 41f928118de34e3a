/**
 * `npm run bench`: how fast roadtoll's steps are next to a floor, csv-parse and DuckDB, on the same files. No
 * pass/fail. See docs/performance.md for what it measures, the figures and how to read them.
 *
 *   BENCH_SIZES_MB=40,400      synthetic file sizes (MB = 10^6 bytes; 4 is handy while developing; 0: none)
 *   BENCH_REAL_MB=400          size of the file built from the real ANTT files (default: the largest synthetic
 *                              size, or 400; 0 skips it; skipped anyway when ../shared/data/antt is absent)
 *   BENCH_REAL_DIR=dir         where the real files are (default ../shared/data/antt, next to the repository)
 *   BENCH_REPEATS=3            runs of each approach, interleaved; medians are reported
 *   BENCH_ONLY=floor,deaths    a subset of: floor, csv-parse, duckdb-1, duckdb-2, ingest, deaths, npm-start
 *   BENCH_STARTUP=10           runs of each start-up measurement (bench/startup.ts; 0 skips them)
 *   DATABASE_URL=postgres://…  the deaths step (and npm start) write to that Postgres instead of PGlite
 *   BENCH_JSON=path            also write every measurement as JSON
 *   BENCH_KEEP=1               keep the generated files and the temp folder
 *
 * Each measurement runs in a fresh child process (bench/child.ts), so its peak RSS is its own. The embedded S3
 * (s3rver), the HTTP server that plays the ANTT host and the embedded Postgres (PGlite behind its socket server)
 * run here, in the parent, as S3, the web and RDS are outside a Lambda.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { LAMBDA_BUILD_OPTIONS } from "../scripts/bundle-lambda.js";
import { textTable } from "../src/cli/text-table.js";
import { VEHICLES } from "../src/domain/columns.js";
import { dockerfileFinalStage } from "../tests/infra/bundle.js";
import { type Dataset, writeReal, writeSynthetic } from "./datasets.js";
import { startMinimalS3 } from "./minimal-s3.js";
import {
  type ChildResult,
  type ChildTask,
  type DeathsEvent,
  type MetricCheck,
  RESULT_MARKER,
} from "./protocol.js";
import { measureStartup } from "./startup.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, "..");
const REAL_DATA = resolve(ROOT, process.env.BENCH_REAL_DIR || "../shared/data/antt");
const BUCKET = "roadtoll-bench";
const MB = 1e6;
const MIB = 2 ** 20;

const APPROACHES = [
  { id: "floor", name: "floor (read the bytes)" },
  { id: "csv-parse", name: "csv-parse alone" },
  { id: "duckdb-1", name: "DuckDB 1 thread" },
  { id: "duckdb-2", name: "DuckDB 2 threads" },
  { id: "ingest", name: "roadtoll ingest step" },
  { id: "ingest-discard", name: "ingest step, S3 discarding" },
  { id: "ingest-hashing", name: "ingest step, S3 only hashing" },
  { id: "deaths", name: "roadtoll deaths step" },
  { id: "npm-start", name: "npm start --link (whole)" },
  { id: "npm-start-kept", name: "npm start, data dir kept" },
] as const;
type ApproachId = (typeof APPROACHES)[number]["id"];

/** One run of one approach. */
interface Measurement {
  approach: ApproachId;
  /** The approach's own work, timed inside the child; for npm start, the whole process. */
  seconds: number;
  /** Spawn to exit of the child process: node, tsx, module loading and set-up included. */
  processSeconds: number;
  /** The child's CPU time during the measured work; undefined for npm start. */
  cpuSeconds: number | undefined;
  maxRss: number;
  rssBefore: number | undefined;
  check: MetricCheck;
}

interface DatasetReport {
  dataset: Dataset;
  /** Size of the clean object the deaths step reads. */
  cleanBytes: number | undefined;
  measurements: Measurement[];
}

const log = (line: string) => process.stderr.write(`${line}\n`);

function listFromEnv(name: string, fallback: string): number[] {
  const raw = process.env[name] || fallback;
  const values = raw.split(",").map((part) => Number(part.trim()));
  if (values.length === 0 || values.some((value) => !(value >= 0) || !Number.isFinite(value))) {
    throw new Error(`${name} must be a comma-separated list of numbers, got "${raw}"`);
  }
  return values;
}

function selectedApproaches(): ApproachId[] {
  const raw = process.env.BENCH_ONLY;
  if (!raw) return APPROACHES.map((a) => a.id);
  const ids = raw.split(",").map((part) => part.trim());
  const known = new Set<string>(APPROACHES.map((a) => a.id));
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown ${unknown.join(", ")} (known: ${[...known]})`);
  return APPROACHES.map((a) => a.id).filter((id) => ids.includes(id));
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

const CHILD_TIMEOUT_MS = Number(process.env.BENCH_CHILD_TIMEOUT_S || 1800) * 1000;

function spawnNode(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Finished> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child: ChildProcess = spawn(process.execPath, args, {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (text: string) => {
      stdout += text;
    });
    child.stderr?.setEncoding("utf8").on("data", (text: string) => {
      stderr += text;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}

function failure(what: string, finished: Finished): Error {
  const tail = `${finished.stderr}\n${finished.stdout}`.trim().split("\n").slice(-15).join("\n");
  return new Error(`${what}: child exited with ${finished.code}\n${tail}`);
}

/**
 * bench/child.ts, bundled with the images' own settings (scripts/bundle-lambda.ts), from the current sources, so
 * the children run what a Lambda would run, without tsx's own memory and start-up. Code splitting keeps each approach's code apart: the floor loads no SDK.
 * The output goes under node_modules/.cache so that DuckDB, left external (it is native), resolves from there.
 */
async function bundleChild(): Promise<string> {
  const { build } = await import("esbuild");
  const outdir = join(ROOT, "node_modules/.cache/roadtoll-bench");
  await rm(outdir, { recursive: true, force: true });
  await build({
    ...LAMBDA_BUILD_OPTIONS,
    entryPoints: [join(BENCH_DIR, "child.ts")],
    splitting: true,
    outdir,
    outExtension: { ".js": ".mjs" },
    external: ["@duckdb/node-api", ...LAMBDA_BUILD_OPTIONS.external],
  });
  return join(outdir, "child.mjs");
}

let childScript: string | undefined;

async function runChild(task: ChildTask): Promise<{ result: ChildResult; processSeconds: number }> {
  childScript ??= await bundleChild();
  // As the images run their bundle: with their ENV's NODE_OPTIONS (the semi-space size), and no
  // --enable-source-maps (their entry reads the map only to format a stack).
  const step = task.kind === "ingest" || task.kind === "deaths";
  const env = step
    ? { ...process.env, NODE_OPTIONS: dockerfileFinalStage(task.kind).env.NODE_OPTIONS ?? "" }
    : process.env;
  const finished = await spawnNode([childScript, JSON.stringify(task)], env);
  const line = finished.stdout.split("\n").find((text) => text.startsWith(RESULT_MARKER));
  if (finished.code !== 0 || !line) throw failure(task.kind, finished);
  return {
    result: JSON.parse(line.slice(RESULT_MARKER.length)) as ChildResult,
    processSeconds: finished.seconds,
  };
}

/** What `npm start` runs: build/ when it is newer than src/ (ensureCliBuilt), else the sources through tsx. */
const CLI_BIN = join(ROOT, "bin/roadtoll.mjs");

/** Builds build/ as `npm ci` does, so that the bench times what a user's `npm start` runs, not tsx compiling src/. */
async function ensureCliBuilt(): Promise<void> {
  const finished = await spawnNode([join(ROOT, "scripts/build-cli.mjs")]);
  if (finished.code !== 0) throw failure("npm run build:cli", finished);
}

/**
 * `npm start` as a whole process. With `keptDataDir`, the run reuses that data directory, as every run but the
 * first does with the default `.roadtoll/`: PGlite then opens an existing database instead of running initdb
 * (about 2.5 s here).
 */
async function runCli(url: string, work: string, keptDataDir?: string): Promise<Measurement> {
  const dataDir = await mkdtemp(join(work, "npm-start-"));
  const rssFile = join(dataDir, "max-rss");
  try {
    const finished = await spawnNode(
      [
        "--import",
        pathToFileURL(join(BENCH_DIR, "vmhwm-probe.mjs")).href,
        CLI_BIN,
        "--link",
        url,
        "--data-dir",
        keptDataDir ?? join(dataDir, "data"),
      ],
      { ...process.env, BENCH_RSS_FILE: rssFile },
    );
    if (finished.code !== 0) throw failure("npm start", finished);
    // The printed table's first row: source, rows, rejected, roads, deaths, then deaths by vehicle (VEHICLES'
    // order). `--json` prints counts and keys only; the table comes from the full summary the run wrote to S3.
    const lines = finished.stdout.split("\n");
    const row = lines[lines.findIndex((line) => line.startsWith("Deaths by vehicle")) + 3];
    if (!row) throw failure("npm start (no results table in its output)", finished);
    const [, rowsRead, rowsRejected, roads, totalDeaths, ...byVehicle] = row.trim().split(/\s+/).map(Number);
    return {
      approach: keptDataDir ? "npm-start-kept" : "npm-start",
      seconds: finished.seconds,
      processSeconds: finished.seconds,
      cpuSeconds: undefined,
      maxRss: Number(await readFile(rssFile, "utf8")),
      rssBefore: undefined,
      check: {
        rowsRead: rowsRead ?? Number.NaN,
        rowsRejected: rowsRejected ?? Number.NaN,
        roads: roads ?? Number.NaN,
        totalDeaths: totalDeaths ?? Number.NaN,
        deathsByVehicle: Object.fromEntries(
          VEHICLES.map((vehicle, i) => [vehicle, byVehicle[i] ?? Number.NaN]),
        ),
      },
    };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** A data directory that an untimed `npm start` on the bundled samples has initialised, made once per bench. */
let keptDir: string | undefined;
async function keptDataDir(work: string): Promise<string> {
  if (keptDir) return keptDir;
  const dataDir = join(work, "npm-start-kept");
  log("npm start, data dir kept: initialising it with one untimed run on the samples …");
  const finished = await spawnNode([CLI_BIN, "--data-dir", dataDir], process.env);
  if (finished.code !== 0) throw failure("npm start (initialising the kept data dir)", finished);
  keptDir = dataDir;
  return dataDir;
}

// ---------------------------------------------------------------------------------------------------------------
// What the Lambdas talk to: S3, the ANTT host, Postgres

interface Services {
  s3Endpoint: string;
  /** An S3 endpoint that throws uploads away (minimal-s3.ts): the ingest step without S3's own cost. */
  discardS3Endpoint: string;
  /** One that only hashes (MD5) and writes each upload's bytes: the floor for any embedded S3 here. */
  hashingS3Endpoint: string;
  fileBaseUrl: string;
  databaseUrl: string;
  databaseLabel: string;
  close(): Promise<void>;
}

async function startServices(work: string, filesDir: string): Promise<Services> {
  const { startS3Server } = await import("../src/local/s3-server.js");
  const { startFileServer } = await import("../src/local/file-server.js");
  const { migrateToLatest } = await import("../src/db/migrate.js");
  const s3Dir = join(work, "s3");
  await mkdir(s3Dir, { recursive: true });
  const s3 = await startS3Server(s3Dir, [BUCKET]);
  const files = await startFileServer(filesDir);
  const discard = await startMinimalS3();
  const hashingDir = join(work, "s3-hashing");
  await mkdir(hashingDir, { recursive: true });
  const hashing = await startMinimalS3(hashingDir);
  const closers: Array<() => Promise<unknown>> = [files.close, s3.close, discard.close, hashing.close];
  const external = process.env.DATABASE_URL;
  let databaseUrl: string;
  let databaseLabel: string;
  if (external) {
    const { createDatabase } = await import("../src/db/database.js");
    const db = await createDatabase({ kind: "url", url: external });
    await migrateToLatest(db);
    closers.unshift(async () => {
      // Only the snapshots this benchmark wrote (its sources are all named bench_…).
      const { sql } = await import("kysely");
      await sql`delete from deaths_by_vehicle where source like 'bench\_%'`.execute(db);
      await db.destroy();
    });
    databaseUrl = external;
    const url = new URL(external);
    databaseLabel = `Postgres at ${url.host}${url.pathname} (DATABASE_URL)`;
  } else {
    const { createEmbeddedDatabase } = await import("../src/db/embedded-database.js");
    const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
    const { db, pglite } = await createEmbeddedDatabase(join(work, "pglite"));
    await migrateToLatest(db);
    const socket = new PGLiteSocketServer({ db: pglite, host: "127.0.0.1", port: 0, maxConnections: 4 });
    await socket.start();
    closers.unshift(async () => {
      await socket.stop();
      await db.destroy();
    });
    databaseUrl = `postgres://postgres@${socket.getServerConn()}/postgres`;
    databaseLabel = "PGlite behind @electric-sql/pglite-socket, in the parent process";
  }
  return {
    s3Endpoint: s3.endpoint,
    discardS3Endpoint: discard.endpoint,
    hashingS3Endpoint: hashing.endpoint,
    fileBaseUrl: files.baseUrl,
    databaseUrl,
    databaseLabel,
    close: async () => {
      for (const close of closers) await close().catch((error: unknown) => log(`close: ${String(error)}`));
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Measuring

async function measure(
  approach: ApproachId,
  dataset: Dataset,
  services: Services,
  event: DeathsEvent | undefined,
  work: string,
): Promise<Measurement> {
  const url = `${services.fileBaseUrl}/${encodeURIComponent(dataset.file)}`;
  if (approach === "npm-start") return runCli(url, work);
  if (approach === "npm-start-kept") return runCli(url, work, await keptDataDir(work));
  const source = dataset.file.replace(/\.csv$/, "");
  const task: ChildTask =
    approach === "floor"
      ? { kind: "floor", path: dataset.path }
      : approach === "csv-parse"
        ? { kind: "csv-parse", path: dataset.path }
        : approach === "duckdb-1" || approach === "duckdb-2"
          ? { kind: "duckdb", path: dataset.path, threads: approach === "duckdb-1" ? 1 : 2 }
          : approach === "ingest"
            ? { kind: "ingest", url, source, s3Endpoint: services.s3Endpoint, bucket: BUCKET, keep: false }
            : approach === "ingest-discard" || approach === "ingest-hashing"
              ? {
                  kind: "ingest",
                  url,
                  source,
                  s3Endpoint:
                    approach === "ingest-discard" ? services.discardS3Endpoint : services.hashingS3Endpoint,
                  bucket: BUCKET,
                  // The hashing S3 keeps the objects until they are deleted, after the step, as s3rver's are.
                  keep: approach === "ingest-discard",
                }
              : {
                  kind: "deaths",
                  event: event ?? missing("deaths step event"),
                  s3Endpoint: services.s3Endpoint,
                  bucket: BUCKET,
                  databaseUrl: services.databaseUrl,
                };
  const { result, processSeconds } = await runChild(task);
  return {
    approach,
    seconds: result.seconds,
    processSeconds,
    cpuSeconds: result.cpuSeconds,
    maxRss: result.maxRss,
    rssBefore: result.rssBefore,
    check: result.check,
  };
}

function missing(what: string): never {
  throw new Error(`internal: ${what} missing`);
}

/** Ingests the file once (not measured) so that the deaths step has a clean object to read. */
async function prepareDeathsInput(
  dataset: Dataset,
  services: Services,
): Promise<{ event: DeathsEvent; cleanBytes: number }> {
  const { result } = await runChild({
    kind: "ingest",
    url: `${services.fileBaseUrl}/${encodeURIComponent(dataset.file)}`,
    source: dataset.file.replace(/\.csv$/, ""),
    s3Endpoint: services.s3Endpoint,
    bucket: BUCKET,
    keep: true,
  });
  const ingest = result.ingest ?? missing("ingest result");
  const { bucket, key, source, runId, ingestedAt } = ingest;
  return { event: { bucket, key, source, runId, ingestedAt }, cleanBytes: ingest.cleanBytes };
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

interface Summary {
  approach: ApproachId;
  name: string;
  runs: number;
  seconds: number;
  processSeconds: number;
  /** Median of the child's CPU time / wall time over the runs. */
  cpuShare: number | undefined;
  /** Highest peak over the runs. */
  maxRss: number;
  /** Median RSS right before the measured work (runtime and modules loaded, clients created). */
  rssBefore: number | undefined;
  check: MetricCheck | undefined;
}

function summarise(report: DatasetReport): Summary[] {
  return APPROACHES.flatMap(({ id, name }) => {
    const runs = report.measurements.filter((m) => m.approach === id);
    if (runs.length === 0) return [];
    return [
      {
        approach: id,
        name,
        runs: runs.length,
        seconds: median(runs.map((m) => m.seconds)),
        processSeconds: median(runs.map((m) => m.processSeconds)),
        cpuShare: runs.every((m) => m.cpuSeconds !== undefined)
          ? median(runs.map((m) => (m.cpuSeconds ?? 0) / m.seconds))
          : undefined,
        maxRss: Math.max(...runs.map((m) => m.maxRss)),
        rssBefore: runs.every((m) => m.rssBefore !== undefined)
          ? median(runs.map((m) => m.rssBefore ?? 0))
          : undefined,
        check: runs.at(-1)?.check,
      },
    ];
  });
}

function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  return textTable(
    headers,
    rows,
    headers.map((_, i) => (i === 0 ? "left" : "right")),
  );
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : "-");
const thousands = (value: number) =>
  Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "-";
const ratio = (value: number, base: number | undefined) =>
  base && Number.isFinite(value) ? `${(value / base).toFixed(value / base < 10 ? 2 : 1)}×` : "-";

function datasetTable(report: DatasetReport, summaries: readonly Summary[]): string {
  const { dataset } = report;
  const floor = summaries.find((s) => s.approach === "floor")?.seconds;
  const duck = summaries.find((s) => s.approach === "duckdb-1")?.seconds;
  const mb = dataset.bytes / MB;
  return table(
    [
      "approach",
      "MB",
      "rows",
      "wall s",
      "MB/s",
      "rows/s",
      "CPU %",
      "RSS at start MiB",
      "peak RSS MiB",
      "× floor",
      "× DuckDB 1t",
      "process s",
    ],
    summaries.map((s) => [
      s.name,
      fixed(mb, 1),
      thousands(dataset.rows),
      fixed(s.seconds, s.seconds < 10 ? 2 : 1),
      fixed(mb / s.seconds, 1),
      thousands(dataset.rows / s.seconds),
      s.cpuShare === undefined ? "-" : fixed(s.cpuShare * 100, 0),
      s.rssBefore === undefined ? "-" : fixed(s.rssBefore / MIB, 0),
      fixed(s.maxRss / MIB, 0),
      ratio(s.seconds, floor),
      ratio(s.seconds, duck),
      fixed(s.processSeconds, 1),
    ]),
  );
}

function goals(report: DatasetReport, summaries: readonly Summary[]): string[] {
  const by = (id: ApproachId) => summaries.find((s) => s.approach === id);
  const mark = (ok: boolean) => (ok ? "met" : "NOT met");
  const lines: string[] = [];
  const deaths = by("deaths");
  if (deaths && report.cleanBytes) {
    const rate = report.cleanBytes / MB / deaths.seconds;
    lines.push(
      `  deaths step  ${fixed(rate, 1)} MB/s of its input (the ${fixed(report.cleanBytes / MB, 1)} MB clean object); ` +
        `goal ≥ 150: ${mark(rate >= 150)}`,
    );
  }
  const ingest = by("ingest");
  if (ingest) {
    const rate = report.dataset.bytes / MB / ingest.seconds;
    lines.push(
      `  ingest step  ${fixed(rate, 1)} MB/s against the embedded S3; goal ≥ 80: ${mark(rate >= 80)}`,
    );
  }
  const discarding = by("ingest-discard");
  if (discarding) {
    const rate = report.dataset.bytes / MB / discarding.seconds;
    lines.push(
      `  ingest step  ${fixed(rate, 1)} MB/s with an S3 that discards; goal ≥ 120: ${mark(rate >= 120)}`,
    );
  }
  // What the embedded S3 adds to the step, split into what any S3 must do with the bytes (hash and write them:
  // the minimal S3) and what is s3rver's own.
  const hashing = by("ingest-hashing");
  if (ingest && discarding && hashing) {
    const added = ingest.seconds - discarding.seconds;
    const own = ingest.seconds - hashing.seconds;
    lines.push(
      `  embedded S3  adds ${fixed(added, 2)} s to the ingest step (${fixed(ingest.seconds, 2)} s against ` +
        `${fixed(discarding.seconds, 2)} s discarding); an S3 that only hashes (MD5) and writes the bytes takes ` +
        `${fixed(hashing.seconds, 2)} s, so ${fixed(own, 2)} s of it is s3rver's own`,
    );
  }
  // Whole process against whole process (DuckDB's includes its own start); the ratio to its query alone, the
  // stricter one, is printed beside it.
  const duck = by("duckdb-1");
  for (const [id, label, goal] of [
    ["npm-start", "new data dir", 3],
    ["npm-start-kept", "data dir kept", 2.5],
  ] as const) {
    const cli = by(id);
    if (!cli || !duck) continue;
    const times = cli.processSeconds / duck.processSeconds;
    lines.push(
      `  npm start    ${label}: ${fixed(cli.processSeconds, 1)} s whole process vs DuckDB 1 thread ` +
        `${fixed(duck.processSeconds, 1)} s (${fixed(duck.seconds, 1)} s query): ${fixed(times, 2)}× ` +
        `(${fixed(cli.processSeconds / duck.seconds, 2)}× the query alone); goal ≤ ${goal}×: ${mark(times <= goal)}`,
    );
  }
  for (const step of [ingest, discarding, hashing, deaths]) {
    if (!step) continue;
    const mib = step.maxRss / MIB;
    lines.push(`  peak RSS     ${step.name}: ${fixed(mib, 0)} MiB; goal ≤ 160: ${mark(mib <= 160)}`);
  }
  return lines.length > 0
    ? [
        "goals (issues 6 and 21; the speeds and ratios are set for the 400 MB file, peak RSS for every size):",
        ...lines,
      ]
    : [];
}

/** Do the approaches that compute the metric agree? Roads differ by design (DuckDB groups raw trecho). */
function checks(report: DatasetReport, summaries: readonly Summary[]): string[] {
  const lines: string[] = [];
  const describe = (c: MetricCheck) =>
    [
      `rows ${thousands(c.rowsRead)}`,
      c.rowsRejected === undefined ? "" : `rejected ${thousands(c.rowsRejected)}`,
      c.roads === undefined ? "" : `roads ${c.roads}`,
      c.totalDeaths === undefined ? "" : `deaths ${thousands(c.totalDeaths)}`,
      c.deathsByVehicle ? `by vehicle ${JSON.stringify(c.deathsByVehicle)}` : "",
    ]
      .filter(Boolean)
      .join(", ");
  const reference = summaries.find((s) => s.approach === "duckdb-1" || s.approach === "duckdb-2")?.check;
  for (const s of summaries) {
    if (!s.check) continue;
    if (s.approach === "floor") {
      const ok = s.check.bytesRead === report.dataset.bytes;
      lines.push(`  ${s.name}: ${thousands(s.check.bytesRead ?? 0)} bytes${ok ? "" : "  ≠ the file's size"}`);
      continue;
    }
    let note =
      s.check.rowsRead === report.dataset.rows ? "" : ` (the file has ${thousands(report.dataset.rows)})`;
    if (reference && s.check.totalDeaths !== undefined && s.approach !== "duckdb-1") {
      const same =
        s.check.totalDeaths === reference.totalDeaths &&
        JSON.stringify(s.check.deathsByVehicle) === JSON.stringify(reference.deathsByVehicle);
      note += same ? "; deaths agree with DuckDB" : "; deaths DIFFER from DuckDB";
    }
    lines.push(`  ${s.name}: ${describe(s.check)}${note}`);
  }
  return lines.length > 0
    ? ["checks (rows: data lines; DuckDB's rows read leave out rows with the wrong field count):", ...lines]
    : [];
}

function renderReport(report: DatasetReport, repeats: number): string {
  const summaries = summarise(report);
  const { dataset } = report;
  return [
    `== ${dataset.label}: ${dataset.kind === "real" ? "real ANTT rows repeated" : "synthetic ANTT rows"}, ` +
      `${fixed(dataset.bytes / MB, 1)} MB, ${thousands(dataset.rows)} rows; median of ${repeats} interleaved runs`,
    "",
    datasetTable(report, summaries),
    "",
    ...goals(report, summaries),
    ...checks(report, summaries),
    "",
  ].join("\n");
}

/** Which code was measured: the commit, and how many files under src/ differ from it. */
function codeVersion(): string {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
    const changed = git("status", "--porcelain", "--", "src").split("\n").filter(Boolean).length;
    return `${git("rev-parse", "--short", "HEAD")}${changed > 0 ? ` + uncommitted changes to ${changed} file(s) in src/` : ""}`;
  } catch {
    return "unknown (not a git checkout)";
  }
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  // The steps' HTTP client (undici 8) needs Node 22 and dies deep inside its own code on older versions: say so
  // up front rather than after minutes of generating files.
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 22) {
    throw new Error(
      `npm run bench needs Node.js 22 or later (package.json engines), this is ${process.version}`,
    );
  }
  const sizes = listFromEnv("BENCH_SIZES_MB", "40,400").filter((size) => size > 0);
  const realMb = listFromEnv("BENCH_REAL_MB", String(sizes.length > 0 ? Math.max(...sizes) : 400))[0] ?? 0;
  const repeats = Math.max(1, Math.floor(listFromEnv("BENCH_REPEATS", "3")[0] ?? 3));
  const approaches = selectedApproaches();
  const started = performance.now();
  const { version: duckdbVersion } = await import("@duckdb/node-api");

  const header = [
    "roadtoll benchmark (npm run bench; docs/performance.md)",
    `date:     ${new Date().toISOString()}`,
    `node:     ${process.version} (${process.platform}/${process.arch}), DuckDB ${duckdbVersion()}`,
    `cpu:      ${cpus()[0]?.model ?? "unknown"} × ${cpus().length}; load average ${loadavg()
      .map((value) => value.toFixed(2))
      .join(" ")}`,
    `memory:   ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `code:     ${codeVersion()}`,
    `repeats:  ${repeats}, interleaved (${approaches.join(" ")}, then again)`,
    "columns:  MB = 10^6 bytes of the source file; wall s = median of the approach's own work, timed inside its",
    "          child (npm start: the whole process); CPU % = the child's CPU time over that wall time (threads",
    "          can take it past 100); RSS at start = before the timed work; peak RSS = the child's VmHWM, highest",
    "          run; process s = median spawn-to-exit of the child",
  ];
  const work = await mkdtemp(join(tmpdir(), "roadtoll-bench-"));
  const filesDir = join(work, "files");
  await mkdir(filesDir);
  const notes: string[] = [];
  const reports: DatasetReport[] = [];
  let services: Services | undefined;
  let startup: string | undefined;
  try {
    const datasets: Dataset[] = [];
    for (const size of sizes) {
      log(`generating synthetic ${size} MB …`);
      datasets.push(await writeSynthetic(filesDir, size));
    }
    if (realMb <= 0) {
      notes.push("real data: skipped (BENCH_REAL_MB=0)");
    } else if (!existsSync(REAL_DATA)) {
      notes.push(`real data: skipped, ${REAL_DATA} not found`);
    } else {
      log(`building ${realMb} MB from the real ANTT files …`);
      const real = await writeReal(filesDir, REAL_DATA, realMb);
      if (real) datasets.push(real);
      else notes.push(`real data: skipped, no CSV in ${REAL_DATA}`);
    }

    const startupRuns = Math.floor(listFromEnv("BENCH_STARTUP", "10")[0] ?? 10);
    if (startupRuns > 0) {
      log(`start-up: ${startupRuns} runs of each command …`);
      startup = await measureStartup(ROOT, work, startupRuns);
    }
    if (approaches.some((approach) => approach.startsWith("npm-start"))) await ensureCliBuilt();
    services = await startServices(work, filesDir);
    header.push(`database: ${services.databaseLabel}`);
    header.push(`files:    ${filesDir}`);
    process.stdout.write(`${header.join("\n")}\n\n`);
    if (startup) process.stdout.write(`${startup}\n`);
    log(`s3rver at ${services.s3Endpoint}; files at ${services.fileBaseUrl}; ${services.databaseLabel}`);

    for (const dataset of datasets) {
      const report: DatasetReport = { dataset, cleanBytes: undefined, measurements: [] };
      reports.push(report);
      let event: DeathsEvent | undefined;
      if (approaches.includes("deaths")) {
        log(`${dataset.label}: ingesting once for the deaths step (not measured) …`);
        const prepared = await prepareDeathsInput(dataset, services);
        event = prepared.event;
        report.cleanBytes = prepared.cleanBytes;
      }
      for (let run = 1; run <= repeats; run++) {
        for (const approach of approaches) {
          const m = await measure(approach, dataset, services, event, work);
          report.measurements.push(m);
          log(
            `${dataset.label} run ${run}/${repeats} ${approach}: ${m.seconds.toFixed(2)} s ` +
              `(${(dataset.bytes / MB / m.seconds).toFixed(1)} MB/s), peak RSS ${(m.maxRss / MIB).toFixed(0)} MiB, ` +
              `process ${m.processSeconds.toFixed(1)} s`,
          );
        }
      }
      process.stdout.write(renderReport(report, repeats));
      process.stdout.write("\n");
    }
  } finally {
    await services?.close();
    if (process.env.BENCH_KEEP) notes.push(`kept ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
  if (process.env.BENCH_JSON) {
    await writeFile(process.env.BENCH_JSON, `${JSON.stringify({ header, reports }, null, 2)}\n`);
    notes.push(`measurements written to ${process.env.BENCH_JSON}`);
  }
  for (const note of notes) process.stdout.write(`note: ${note}\n`);
  process.stdout.write(`bench wall time: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
