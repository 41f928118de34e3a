/**
 * `npm run bench`: throughput and memory figures, no pass/fail. See bench/README.md.
 *
 *   BENCH_SIZES_MB=10,50,200   synthetic sizes for the domain part (MB = 10^6 bytes)
 *   BENCH_ONLY=domain|e2e      run one part only
 *   DATABASE_URL=postgres://…  also run the end-to-end part against that Postgres
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { DomainKind, DomainMeasurement } from "./domain-child.js";
import { csvFiles, type EndToEndRun, type FileSet, runEndToEnd } from "./e2e.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, "..");
const REAL_DATA = resolve(ROOT, "../shared/data/antt");
const KINDS: readonly DomainKind[] = ["source", "clean", "deaths"];
const MB = 1e6;

const log = (line: string) => process.stderr.write(`${line}\n`);

function sizesFromEnv(): number[] {
  const raw = process.env.BENCH_SIZES_MB ?? "10,50,200";
  const sizes = raw.split(",").map((part) => Number(part.trim()));
  if (sizes.length === 0 || sizes.some((size) => !(size > 0))) {
    throw new Error(`BENCH_SIZES_MB must be a comma-separated list of positive numbers, got "${raw}"`);
  }
  return sizes;
}

/** One measurement in a fresh Node process, so the memory peaks of one run never carry over to the next. */
function runDomainChild(kind: DomainKind, sizeMb: number): Promise<DomainMeasurement> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      ["--expose-gc", "--import", "tsx", join(BENCH_DIR, "domain-child.ts"), kind, String(sizeMb)],
      { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
    );
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (text: string) => {
      stdout += text;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const line = stdout.trim().split("\n").at(-1);
      if (code !== 0 || !line) return reject(new Error(`${kind} ${sizeMb} MB: child exited with ${code}`));
      resolvePromise(JSON.parse(line) as DomainMeasurement);
    });
  });
}

function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  // First column left-aligned (names), the rest right-aligned (numbers).
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)].join("\n");
}

const mb = (bytes: number) => (bytes / MB).toFixed(1);
const mb2 = (bytes: number) => (bytes / MB).toFixed(2);
const rate = (bytes: number, seconds: number) => (seconds > 0 ? (bytes / MB / seconds).toFixed(1) : "-");
const thousands = (n: number) => n.toLocaleString("en-US");

function domainTable(results: readonly DomainMeasurement[]): string {
  return table(
    [
      "step",
      "size MB",
      "rows",
      "seconds",
      "MB/s",
      "rows/s",
      "RSS base",
      "RSS peak",
      "heap base",
      "heap peak",
      "heap after",
      "samples",
    ],
    results.map((r) => [
      r.kind === "source" ? "generator only" : r.kind === "clean" ? "cleanCsv" : "computeDeaths",
      mb(r.inputBytes),
      thousands(r.rows),
      r.seconds.toFixed(2),
      r.kind === "source" ? ">1000" : rate(r.inputBytes, r.seconds),
      r.kind === "source" ? "-" : thousands(Math.round(r.rows / r.seconds)),
      mb(r.baseline.rss),
      mb(r.peak.rss),
      mb(r.baseline.heapUsed),
      mb(r.peak.heapUsed),
      mb(r.after.heapUsed),
      String(r.samples),
    ]),
  );
}

function endToEndTable(run: EndToEndRun): string {
  const rows = run.files.map((f) => [
    `${f.set}/${f.file}`,
    mb2(f.bytes),
    thousands(f.rows),
    thousands(f.rejected),
    thousands(f.deaths),
    f.ingestSeconds.toFixed(2),
    f.deathsSeconds.toFixed(2),
    rate(f.bytes, f.ingestSeconds),
    rate(f.bytes, f.ingestSeconds + f.deathsSeconds),
  ]);
  for (const set of new Set(run.files.map((f) => f.set))) {
    const files = run.files.filter((f) => f.set === set);
    const sum = (pick: (f: (typeof files)[number]) => number) =>
      files.reduce((total, f) => total + pick(f), 0);
    const bytes = sum((f) => f.bytes);
    const ingest = sum((f) => f.ingestSeconds);
    const deaths = sum((f) => f.deathsSeconds);
    rows.push([
      `TOTAL ${set} (${files.length} files)`,
      mb2(bytes),
      thousands(sum((f) => f.rows)),
      thousands(sum((f) => f.rejected)),
      thousands(sum((f) => f.deaths)),
      ingest.toFixed(2),
      deaths.toFixed(2),
      rate(bytes, ingest),
      rate(bytes, ingest + deaths),
    ]);
  }
  return table(
    ["file", "MB", "rows", "rejected", "deaths", "ingest s", "deaths s", "ingest MB/s", "total MB/s"],
    rows,
  );
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY;
  const sizes = only === "e2e" ? [] : sizesFromEnv();
  const started = performance.now();
  const machine = [
    `date:    ${new Date().toISOString()}`,
    `node:    ${process.version} (${process.platform}/${process.arch})`,
    `cpu:     ${cpus()[0]?.model ?? "unknown"} × ${cpus().length}`,
    `memory:  ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
  ].join("\n");
  log(machine);

  const domain: DomainMeasurement[] = [];
  for (const size of sizes) {
    for (const kind of KINDS) {
      log(`domain: ${kind} ${size} MB …`);
      const result = await runDomainChild(kind, size);
      log(
        `  ${mb(result.inputBytes)} MB, ${thousands(result.rows)} rows in ${result.seconds.toFixed(2)}s ` +
          `(${rate(result.inputBytes, result.seconds)} MB/s); peak RSS ${mb(result.peak.rss)} MB; ${result.detail}`,
      );
      domain.push(result);
    }
  }

  const runs: EndToEndRun[] = [];
  const notes: string[] = [];
  if (only !== "domain") {
    const sets: FileSet[] = [{ label: "samples", directory: join(ROOT, "samples") }];
    if (existsSync(REAL_DATA) && (await csvFiles(REAL_DATA)).length > 0) {
      sets.push({ label: "antt", directory: REAL_DATA });
    } else {
      notes.push(`real data: ${REAL_DATA} not found, only the bundled samples were run end to end`);
    }
    log("end to end: PGlite …");
    runs.push(await runEndToEnd(sets, { log }));
    const databaseUrl = process.env.DATABASE_URL;
    if (databaseUrl) {
      log("end to end: DATABASE_URL …");
      runs.push(await runEndToEnd(sets, { databaseUrl, log }));
    } else {
      notes.push("DATABASE_URL not set: end to end ran against PGlite only");
    }
  }

  const out: string[] = ["", "roadtoll benchmark", machine, ""];
  if (domain.length > 0) {
    out.push(
      "Domain throughput (no I/O; synthetic ISO-8859-1 ANTT rows streamed in 64 KiB chunks; a fresh process per line;",
      "MB = 10^6 bytes of the step's own input; memory in MB: base after GC before the run, peak sampled every 10 ms,",
      "heap after = heapUsed after the run and a GC)",
      "",
      domainTable(domain),
      "",
    );
  }
  for (const run of runs) {
    out.push(
      `End to end (HTTP download → ingest handler → s3rver → deaths handler → ${run.database})`,
      `environment start-up ${run.setupSeconds.toFixed(2)}s, wall ${run.seconds.toFixed(1)}s; whole process: ` +
        `RSS ${mb(run.afterSetup.rss)} MB after start-up, peak ${mb(run.peak.rss)} MB; ` +
        `heapUsed ${mb(run.afterSetup.heapUsed)} MB after start-up, peak ${mb(run.peak.heapUsed)} MB`,
      "",
      endToEndTable(run),
      "",
    );
  }
  for (const note of notes) out.push(`note: ${note}`);
  out.push(`bench wall time: ${((performance.now() - started) / 1000).toFixed(1)}s`);
  process.stdout.write(`${out.join("\n")}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
