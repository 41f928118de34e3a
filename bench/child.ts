/**
 * One measurement, in a fresh process: `node child.mjs '<task as JSON>'`, where child.mjs is this file bundled by
 * bench/run.ts as the Lambda images bundle their handler (`node --import tsx bench/child.ts '<task>'` also works,
 * with tsx's own memory on top). bench/run.ts spawns one per approach and repetition, so each peak RSS is that
 * approach's alone. The child times its own work only (set-up such as creating clients is outside the timed part)
 * and prints one line, `BENCH_RESULT {…}`, on stdout.
 *
 * Modules are imported inside each task (the two steps live in child-steps.ts), so the floor loads neither the
 * AWS SDK nor DuckDB.
 */
import { createReadStream } from "node:fs";
import { peakRss } from "./peak-rss.js";
import { type ChildResult, type ChildTask, RESULT_MARKER, type Timed, timed } from "./protocol.js";

/** The floor: read the file from disk and touch nothing but the chunk lengths. */
async function floor(path: string): Promise<Timed> {
  return timed(async () => {
    let bytes = 0;
    for await (const chunk of createReadStream(path)) bytes += (chunk as Buffer).length;
    return { check: { rowsRead: 0, bytesRead: bytes } };
  });
}

/** csv-parse alone, as permissive as the source needs, counting records. */
async function csvParseOnly(path: string): Promise<Timed> {
  const { parse } = await import("csv-parse");
  const { Writable } = await import("node:stream");
  const { pipeline } = await import("node:stream/promises");
  return timed(async () => {
    let records = 0;
    await pipeline(
      createReadStream(path),
      parse({ delimiter: ";", relax_quotes: true, relax_column_count: true, encoding: "latin1" }),
      new Writable({
        objectMode: true,
        write(_record, _encoding, callback) {
          records++;
          callback();
        },
      }),
    );
    // The header is a record too.
    return { check: { rowsRead: records - 1 } };
  });
}

const VEHICLE_COLUMNS = ["automovel", "bicicleta", "caminhao", "moto", "onibus"] as const;

/**
 * The metric in SQL, with roadtoll's rules: blank or space-only counts are 0, a count must be digits only
 * (`-1`, `x` reject the row), `trecho` must not be blank, and a row with the wrong number of fields is skipped
 * (`ignore_errors`). Roads are grouped by the raw `trecho` (DuckDB does not canonicalise), so the per-road rows
 * differ from roadtoll's while every total is the same. Quoting is off, as in roadtoll.
 */
export function duckdbMetricSql(path: string): string {
  const file = path.replaceAll("'", "''");
  const perVehicle = VEHICLE_COLUMNS.map((v) => `sum(m) filter (where ok and ${v} > 0) as ${v}`).join(
    ",\n    ",
  );
  const allOk = ["m", ...VEHICLE_COLUMNS].map((c) => `${c} is not null`).join(" and ");
  return `
with src as (
  select trecho, mortos, ${VEHICLE_COLUMNS.join(", ")}
  from read_csv('${file}', delim = ';', header = true, quote = '', escape = '', encoding = 'latin-1',
                all_varchar = true, ignore_errors = true)
), typed as (
  select trecho, cnt(mortos) as m, ${VEHICLE_COLUMNS.map((v) => `cnt(${v}) as ${v}`).join(", ")} from src
), flagged as (
  select *, (nullif(trim(trecho), '') is not null and ${allOk}) as ok from typed
), by_road as (
  select trecho, count(*) as n_read, count(*) filter (where ok) as n_ok, sum(m) filter (where ok) as total,
    ${perVehicle}
  from flagged group by trecho
)
select sum(n_read) as rows_read, sum(n_read) - sum(n_ok) as rows_rejected,
  count(*) filter (where n_ok > 0) as roads, coalesce(sum(total), 0) as total_deaths,
  ${VEHICLE_COLUMNS.map((v) => `coalesce(sum(${v}), 0) as ${v}`).join(", ")}
from by_road`;
}

const COUNT_MACRO = String.raw`
create or replace temp macro cnt(x) as case
  when x is null or regexp_full_match(x, '\s*') then 0::bigint
  when regexp_full_match(x, '\s*[0-9]{1,15}\s*') then cast(regexp_extract(x, '[0-9]+') as bigint)
  else null end`;

async function duckdb(path: string, threads: number): Promise<Timed> {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  return timed(async () => {
    const instance = await DuckDBInstance.create(":memory:", { threads: String(threads) });
    const connection = await instance.connect();
    try {
      await connection.run(`SET threads = ${threads}`);
      await connection.run(COUNT_MACRO);
      const reader = await connection.runAndReadAll(duckdbMetricSql(path));
      const row = reader.getRowObjectsJson()[0] ?? {};
      const n = (key: string) => Number(row[key] ?? 0);
      return {
        check: {
          rowsRead: n("rows_read"),
          rowsRejected: n("rows_rejected"),
          roads: n("roads"),
          totalDeaths: n("total_deaths"),
          deathsByVehicle: Object.fromEntries(VEHICLE_COLUMNS.map((v) => [v, n(v)])),
        },
      };
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
}

async function run(task: ChildTask): Promise<Timed> {
  switch (task.kind) {
    case "floor":
      return floor(task.path);
    case "csv-parse":
      return csvParseOnly(task.path);
    case "duckdb":
      return duckdb(task.path, task.threads);
    case "ingest":
      return (await import("./child-steps.js")).ingest(task);
    case "deaths":
      return (await import("./child-steps.js")).deaths(task);
  }
}

async function main(): Promise<void> {
  const task = JSON.parse(process.argv[2] ?? "null") as ChildTask | null;
  if (!task) throw new Error("usage: node child.mjs '<task JSON>'");
  const result = await run(task);
  const out: ChildResult = { ...result, maxRss: peakRss() };
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(out)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
