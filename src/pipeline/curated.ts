import type { Writable } from "node:stream";
import { type Kysely, sql } from "kysely";
import type { ObjectStore } from "../adapters/object-store.js";
import { DEFAULT_RETRY, databaseFailure, type RetryPolicy, retryTransient } from "../db/retry.js";
import type { Database } from "../db/schema.js";
import { sourcesFromFiles } from "../db/sources-from-files.js";
import { formatCsvRow } from "../domain/csv-format.js";
import { spreadsheetCell } from "../domain/safe-text.js";
import { loadReportData } from "../report/load-report-data.js";
import { type ReportData, renderReport } from "../report/render-report.js";
import { forgottenStateRecord, stateKey } from "./source-state.js";

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
  options: {
    now?: Date;
    retry?: RetryPolicy;
    leftOut?: readonly string[];
    leftOutNote?: string;
    /** Leave out, too, the sources whose current figures came from these files (the bundled samples). */
    sampleDigests?: readonly string[];
  } = {},
): Promise<CuratedPublication> {
  let leftOut = options.leftOut ?? [];
  let leftOutNote = options.leftOutNote;
  let samples: string[];
  let data: ReportData;
  let sources: Array<{ source: string; created_at: Date }>;
  try {
    samples = await retryTransient(
      () => samplesBesideRealSources(db, options.sampleDigests ?? []),
      options.retry ?? DEFAULT_RETRY,
    );
    if (samples.length > 0) {
      leftOut = [...leftOut, ...samples];
      leftOutNote ??= "They are the bundled samples: roadtoll report --include-samples shows them.";
    }
    [data, sources] = await retryTransient(
      () =>
        Promise.all([
          loadReportData(db, {
            store,
            leftOut,
            ...(leftOutNote ? { leftOutNote } : {}),
            ...(options.now ? { now: options.now } : {}),
          }),
          db
            .selectFrom("deaths_by_vehicle")
            .select("source")
            .select((eb) => eb.fn.max("created_at").as("created_at"))
            .$if(leftOut.length > 0, (query) => query.where("source", "not in", leftOut))
            .groupBy("source")
            .orderBy("source")
            .execute(),
        ]),
      options.retry ?? DEFAULT_RETRY,
    );
  } catch (error) {
    throw databaseFailure(error, "cannot read the figures to publish under curated/");
  }
  // The samples left out lose their curated objects too: no sum over curated/ may add them to real deaths.
  for (const source of samples) {
    await store.delete(curatedFiguresKey(source, "csv"));
    await store.delete(curatedFiguresKey(source, "json"));
  }
  const keys: string[] = [];
  for (const { source, created_at } of sources) {
    keys.push(...(await publishSource(store, db, source, new Date(created_at))));
  }
  await withdrawForgotten(store, db, options.retry ?? DEFAULT_RETRY);
  await store.writeText(CURATED_REPORT_KEY, renderReport(data), "text/html; charset=utf-8");
  keys.push(CURATED_REPORT_KEY);
  return { keys };
}

/**
 * The sources computed from the bundled samples, when a real source has current figures too: the samples then
 * leave the curated zone (their objects are removed), so that no sum over it mixes synthetic deaths with real
 * ones. With only samples (the quick start), they stay, so its report is not empty.
 */
async function samplesBesideRealSources(db: Kysely<Database>, digests: readonly string[]): Promise<string[]> {
  const samples = await sourcesFromFiles(db, digests);
  if (samples.length === 0) return [];
  const real = await db
    .selectFrom("deaths_by_vehicle")
    .select("source")
    .where("source", "not in", samples)
    .limit(1)
    .executeTakeFirst();
  return real ? samples : [];
}

/**
 * The sources `roadtoll forget` took out and no run has brought back: their curated objects are removed (the
 * zone then holds only current figures), and their state record is replaced so their next run reads the file
 * anew. Done at every publication while they stay forgotten: each step is idempotent.
 */
export async function withdrawForgotten(
  store: ObjectStore,
  db: Kysely<Database>,
  retry: RetryPolicy = DEFAULT_RETRY,
): Promise<void> {
  let forgotten: Array<{ source: string; run_id: string }>;
  try {
    forgotten = await retryTransient(
      () =>
        db
          .selectFrom("pipeline_runs as p")
          .select(["p.source", "p.run_id"])
          .distinctOn("p.source")
          .where("p.status", "=", "forgotten")
          .where(({ not, exists, selectFrom }) =>
            not(
              exists(
                selectFrom("deaths_by_vehicle as d").select("d.source").whereRef("d.source", "=", "p.source"),
              ),
            ),
          )
          .orderBy("p.source")
          .orderBy("p.ingested_at", "desc")
          .execute(),
      retry,
    );
  } catch (error) {
    throw databaseFailure(error, "cannot read the forgotten sources to withdraw from curated/");
  }
  for (const { source, run_id } of forgotten) {
    await store.delete(curatedFiguresKey(source, "csv"));
    await store.delete(curatedFiguresKey(source, "json"));
    await store.writeText(stateKey(source), forgottenStateRecord(source, run_id), "application/json");
  }
}

/** Rows read per query: a page of figures in memory at a time, whatever the number of roads. */
const PAGE_ROWS = 5_000;

/**
 * One source's snapshot as CSV, then as JSON lines, each streamed from the database a page at a time (keyset
 * order) into a multipart upload: memory stays bounded by a page and one upload's parts at any number of roads,
 * and one object is written at a time (a failure aborts it and stops there). Only the rows of the snapshot listed
 * at the start are read: a newer snapshot written meanwhile shortens the object rather than mixing two, and the
 * next publication writes the newer one whole.
 */
async function publishSource(
  store: ObjectStore,
  db: Kysely<Database>,
  source: string,
  createdAt: Date,
): Promise<string[]> {
  const createdAtText = createdAt.toISOString();
  const formats = {
    csv: {
      contentType: "text/csv; charset=utf-8",
      header: formatCsvRow([...CURATED_COLUMNS], "\r\n"),
      line: csvLine,
    },
    json: {
      contentType: "application/x-ndjson; charset=utf-8",
      header: "",
      line: (row: CuratedRow) => `${JSON.stringify(row)}\n`,
    },
  } as const;
  const keys: string[] = [];
  for (const [format, { contentType, header, line }] of Object.entries(formats)) {
    const key = curatedFiguresKey(source, format as keyof typeof formats);
    const upload = store.openUpload(key, contentType);
    try {
      await write(upload.body, header);
      for await (const page of figurePages(db, source, createdAt)) {
        let text = "";
        for (const row of page) {
          text += line({
            road_name: row.road_name,
            vehicle: row.vehicle,
            number_deaths: Number(row.number_deaths),
            created_at: createdAtText,
          });
        }
        await write(upload.body, text);
      }
      upload.body.end();
      await upload.done;
    } catch (error) {
      await upload.abort();
      throw error;
    }
    keys.push(key);
  }
  return keys;
}

async function* figurePages(
  db: Kysely<Database>,
  source: string,
  createdAt: Date,
): AsyncGenerator<Array<{ road_name: string; vehicle: string; number_deaths: number }>> {
  let after: { road: string; vehicle: string } | undefined;
  for (;;) {
    let page: Array<{ road_name: string; vehicle: string; number_deaths: number }>;
    try {
      page = await db
        .selectFrom("deaths_by_vehicle")
        .select(["road_name", "vehicle", "number_deaths"])
        .where("source", "=", source)
        .where("created_at", "=", createdAt)
        .$if(after !== undefined, (query) =>
          query.where(sql<boolean>`(road_name, vehicle) > (${after?.road ?? ""}, ${after?.vehicle ?? ""})`),
        )
        .orderBy("road_name")
        .orderBy("vehicle")
        .limit(PAGE_ROWS)
        .execute();
    } catch (error) {
      throw databaseFailure(error, `cannot read ${source}'s figures to publish under curated/`);
    }
    yield page;
    const last = page.at(-1);
    if (!last || page.length < PAGE_ROWS) return;
    after = { road: last.road_name, vehicle: last.vehicle };
  }
}

/** Writes and waits for the stream to take more: a slow upload holds the reading back, not memory. */
function write(body: Writable, text: string): Promise<void> {
  if (text === "" || body.write(text)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      body.off("drain", done);
      body.off("error", done);
      body.off("close", closed);
      if (error) reject(error);
      else resolve();
    };
    const closed = () => done(new Error("the upload stream closed"));
    body.on("drain", done);
    body.on("error", done);
    body.on("close", closed);
  });
}

type CuratedRow = Record<(typeof CURATED_COLUMNS)[number], string | number>;

/**
 * RFC 4180 with a header row and CRLF line ends (what Athena's OpenCSVSerDe and spreadsheets read). A name a
 * spreadsheet would run as a formula gets a leading `'` (spreadsheetCell); the JSON copy keeps it as read.
 */
function csvLine(row: CuratedRow): string {
  const cell = (value: unknown) => (typeof value === "string" ? spreadsheetCell(value) : String(value));
  return formatCsvRow(
    CURATED_COLUMNS.map((column) => cell(row[column])),
    "\r\n",
  );
}
