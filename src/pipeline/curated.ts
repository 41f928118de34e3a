import type { Kysely } from "kysely";
import type { ObjectStore } from "../adapters/object-store.js";
import { DEFAULT_RETRY, databaseFailure, type RetryPolicy, retryTransient } from "../db/retry.js";
import type { Database } from "../db/schema.js";
import { formatCsvRow } from "../domain/csv-format.js";
import { spreadsheetCell } from "../domain/safe-text.js";
import { loadReportData } from "../report/load-report-data.js";
import { type ReportData, renderReport } from "../report/render-report.js";

/**
 * The curated zone: what people and Athena read, rebuilt whole from the database after each change.
 *
 *   curated/report.html                                                the report (roadtoll report)
 *   curated/deaths_by_vehicle_csv/source=<source>/deaths_by_vehicle.csv  the source's current figures, CSV
 *   curated/deaths_by_vehicle/source=<source>/deaths_by_vehicle.json   the same, one JSON object per line
 *
 * Partitioned by source (Hive style), so a Glue table over `curated/deaths_by_vehicle/` finds each source's
 * figures as a partition; the partition column is in the key, not in the files.
 */
export const CURATED_PREFIX = "curated/";
export const CURATED_REPORT_KEY = `${CURATED_PREFIX}report.html`;
export const CURATED_COLUMNS = ["road_name", "vehicle", "number_deaths", "created_at"] as const;

/**
 * One folder per format: Athena reads every object under a partition's folder, so a CSV beside the JSON the Glue
 * table reads would be parsed as JSON and fail every query.
 */
export const curatedFiguresKey = (source: string, format: "csv" | "json"): string =>
  `${CURATED_PREFIX}deaths_by_vehicle${format === "csv" ? "_csv" : ""}/source=${source}/deaths_by_vehicle.${format}`;

export interface CuratedPublication {
  keys: string[];
}

/**
 * Writes the report and every source's current figures under `curated/`. Each object is replaced whole, in one
 * PutObject, so a reader sees an old or a new object, never half of one; running it twice writes the same.
 *
 * The state machine runs it once per execution, after every link (its PublishCurated state). Reading the database
 * is retried in the step like the deaths step's write (a blip), then named as the deaths step names it:
 * DatabaseUnavailableError, which the state machine retries, or DatabaseError. A write that fails is a
 * StorageError. Two executions publishing at once each write what the database held when they read it; the later
 * PutObject of each key wins.
 */
export async function publishCurated(
  store: ObjectStore,
  db: Kysely<Database>,
  options: { now?: Date; retry?: RetryPolicy } = {},
): Promise<CuratedPublication> {
  let data: ReportData;
  try {
    data = await retryTransient(
      () => loadReportData(db, { store, ...(options.now ? { now: options.now } : {}) }),
      options.retry ?? DEFAULT_RETRY,
    );
  } catch (error) {
    throw databaseFailure(error, "cannot read the figures to publish under curated/");
  }
  const keys: string[] = [];
  for (const [source, rows] of figuresBySource(data)) {
    const csvKey = curatedFiguresKey(source, "csv");
    const jsonKey = curatedFiguresKey(source, "json");
    await store.writeText(csvKey, figuresCsv(rows), "text/csv; charset=utf-8");
    await store.writeText(jsonKey, figuresJsonLines(rows), "application/x-ndjson; charset=utf-8");
    keys.push(csvKey, jsonKey);
  }
  await store.writeText(CURATED_REPORT_KEY, renderReport(data), "text/html; charset=utf-8");
  keys.push(CURATED_REPORT_KEY);
  return { keys };
}

type CuratedRow = Record<(typeof CURATED_COLUMNS)[number], string | number>;

function figuresBySource(data: ReportData): Map<string, CuratedRow[]> {
  const createdAt = new Map(data.snapshots.map(({ source, createdAt }) => [source, createdAt.toISOString()]));
  const bySource = new Map<string, CuratedRow[]>();
  for (const row of data.figures) {
    const rows = bySource.get(row.source) ?? [];
    rows.push({
      road_name: row.road,
      vehicle: row.vehicle,
      number_deaths: row.deaths,
      created_at: createdAt.get(row.source) ?? "",
    });
    bySource.set(row.source, rows);
  }
  return bySource;
}

/**
 * RFC 4180 with a header row and CRLF line ends (what Athena's OpenCSVSerDe and spreadsheets read). A name a
 * spreadsheet would run as a formula gets a leading `'` (spreadsheetCell); the JSON copy keeps it as read.
 */
function figuresCsv(rows: readonly CuratedRow[]): string {
  const cell = (value: unknown) => (typeof value === "string" ? spreadsheetCell(value) : String(value));
  const lines = [CURATED_COLUMNS, ...rows.map((row) => CURATED_COLUMNS.map((column) => cell(row[column])))];
  return lines.map((fields) => formatCsvRow(fields).replace(/\n$/, "\r\n")).join("");
}

/** Newline-delimited JSON: one object per line, which is what Athena's JSON SerDe reads (not one array). */
function figuresJsonLines(rows: readonly CuratedRow[]): string {
  return rows.map((row) => `${JSON.stringify(row)}\n`).join("");
}
