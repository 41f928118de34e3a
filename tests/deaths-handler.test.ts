import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDownloader } from "../src/adapters/http-download.js";
import { loadDownloadConfig } from "../src/config.js";
import type { IngestResult } from "../src/contracts/events.js";
import { createDatabase } from "../src/db/database.js";
import { createDeathsHandler, type DeathsHandler } from "../src/handlers/deaths-handler.js";
import { createIngestHandler, type IngestHandler } from "../src/handlers/ingest-handler.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import type { DeathsResult, DeathsSummary } from "../src/pipeline/deaths-step.js";
import { currentRows, openTestDatabase, type TestDatabase } from "./support/database.js";
import { referenceDeaths, VEHICLE_NAMES } from "./support/reference.js";
import { startTestStorage, type TestStorage } from "./support/storage.js";

const SAMPLES = fileURLToPath(new URL("../samples/", import.meta.url));

let storage: TestStorage;
let database: TestDatabase;
let files: RunningFileServer;
let ingest: IngestHandler;
let deaths: DeathsHandler;
let norte: IngestResult;

beforeAll(async () => {
  [storage, database, files] = await Promise.all([
    startTestStorage(),
    openTestDatabase(),
    startFileServer(SAMPLES),
  ]);
  ingest = createIngestHandler({
    store: storage.ingest.store,
    download: createDownloader({ ...loadDownloadConfig({}), addressPolicy: "loopback" }),
    links: {},
  });
  // These tests run the same samples under many source names; tests/duplicates.test.ts covers refusing that.
  deaths = createDeathsHandler({ store: storage.deaths.store, db: database.db, allowDuplicates: true });
  norte = await ingest({ url: `${files.baseUrl}/amostra_via_norte.csv`, source: "Norte" });
});

afterAll(async () => {
  await files?.close();
  await database?.close();
  await storage?.close();
});

/** The full summary the deaths step wrote next to its answer. */
async function fullSummary(result: DeathsResult): Promise<DeathsSummary> {
  return JSON.parse((await storage.bytes(result.keys.summary)).toString("utf8")) as DeathsSummary;
}

const tableRows = (source: string) => currentRows(database.db, source);

/** The snapshots (ingest times) a table holds for a source. */
async function snapshots(
  table:
    | "deaths_by_vehicle"
    | "deaths_by_vehicle_history"
    | "accidents_by_road_year"
    | "accidents_by_road_year_history",
  source: string,
): Promise<string[]> {
  const rows = await database.db
    .selectFrom(table)
    .select("created_at")
    .distinct()
    .where("source", "=", source)
    .execute();
  return rows.map((row) => row.created_at.toISOString());
}

describe(`deaths handler (database: ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"})`, () => {
  it("writes, for every road and vehicle, the deaths an independent computation finds", async () => {
    const summary = await deaths(norte);
    const expected = referenceDeaths(await readFile(`${SAMPLES}amostra_via_norte.csv`));

    const rows = await tableRows("Norte");
    expect(rows).toHaveLength(expected.roads.size * VEHICLE_NAMES.length);
    for (const row of rows) {
      expect(row.created_at.toISOString()).toBe(norte.ingestedAt);
      expect(row.number_deaths).toBe(expected.roads.get(row.road_name)?.[row.vehicle]);
    }
    expect(summary.deathsByVehicle).toEqual(expected.byVehicle);
    expect(summary.totalDeaths).toBe(expected.totalDeaths);
    expect(summary.rowsAccepted).toBe(expected.accepted);
    expect(summary.rowsRejected).toBe(expected.rejectedLines.length);
    expect(summary.rowsRead).toBe(norte.rows);
    expect(summary.rowsWritten).toBe(rows.length);
    expect(summary.roads).toBe(expected.roads.size);
  });

  it("puts every unreadable row in the rejects object with its source line and reason", async () => {
    const result = await deaths(norte);
    const summary = await fullSummary(result);
    expect(result.keys.rejects).toBe(`rejects/Norte/${norte.runId}.csv`);
    expect(summary.rejects.key).toBe(result.keys.rejects);
    const rejects = (await storage.bytes(summary.rejects.key)).toString("utf8").trimEnd().split("\n");
    // The generator places these rows after data rows 50, 120 and 200 (+ header, + earlier oddities).
    expect(rejects).toEqual([
      "line,column,kind,reason,row",
      '53,,wrong number of fields,"expected 23 fields, found 22",12/03/2021;14:10:00;9001;com vítima;101;BR-116/BA;Norte;Tombamento;1;;;;;;;;;;;;;1',
      // The km "12,5" has a comma, so the row cell is quoted.
      '124,caminhao,not a whole number,"not a whole number: ""x""","13/03/2021;08:00:00;9002;com vítima;12,5;BR-116/BA;Sul;Tombamento;1;;x;;;;;;;;;;;;2"',
      "205,caminhao,negative count,negative count -1,14/03/2021;09:30:00;9003;com vítima;7;BR-070/MT;Sul;Tombamento;1;0;-1;0;1;0;0;0;0;0;0;0;1;0;1",
    ]);
    expect(referenceDeaths(await readFile(`${SAMPLES}amostra_via_norte.csv`)).rejectedLines).toEqual([
      53, 124, 205,
    ]);
    expect(summary.rejects.sample.map((reject) => reject.line)).toEqual([53, 124, 205]);
  });

  it("is idempotent: running the same step again leaves exactly the same rows", async () => {
    await deaths(norte);
    const before = await tableRows("Norte");
    const again = await deaths(norte);
    const after = await tableRows("Norte");
    expect(after).toEqual(before);
    expect(again.rowsWritten).toBe(before.length);
    const { count } = await database.db
      .selectFrom("deaths_by_vehicle")
      .select((eb) => eb.fn.countAll<string>().as("count"))
      .where("source", "=", "Norte")
      .executeTakeFirstOrThrow();
    expect(Number(count)).toBe(before.length);
  });

  it("keeps one snapshot per source current: a newer run replaces it, the older one moves to history", async () => {
    const first = await ingest({ url: `${files.baseUrl}/amostra_via_norte.csv`, source: "Renewed" });
    const second = await ingest({ url: `${files.baseUrl}/amostra_via_norte.csv`, source: "Renewed" });
    const one = await deaths(first);
    expect(await fullSummary(one)).toMatchObject({ current: true, replaced: null });
    const two = await deaths(second);
    expect(await fullSummary(two)).toMatchObject({ current: true, replaced: first.ingestedAt });
    // And again, as a retried step would: nothing doubles anywhere.
    await deaths(second);

    expect(await snapshots("deaths_by_vehicle", "Renewed")).toEqual([second.ingestedAt]);
    expect(await snapshots("deaths_by_vehicle_history", "Renewed")).toEqual([first.ingestedAt]);
    // The accidents per road and year are the same snapshot, replaced in the same transaction.
    expect(await snapshots("accidents_by_road_year", "Renewed")).toEqual([second.ingestedAt]);
    expect(await snapshots("accidents_by_road_year_history", "Renewed")).toEqual([first.ingestedAt]);
    const { accidents } = await database.db
      .selectFrom("accidents_by_road_year")
      .select((eb) => eb.fn.sum<string>("accidents").as("accidents"))
      .where("source", "=", "Renewed")
      .executeTakeFirstOrThrow();
    expect(Number(accidents)).toBe(
      referenceDeaths(await readFile(`${SAMPLES}amostra_via_norte.csv`)).accepted,
    );
    // pipeline_runs agrees: only the run whose snapshot is in the table is current.
    const runs = await database.db
      .selectFrom("pipeline_runs")
      .select(["run_id", "current"])
      .where("source", "=", "Renewed")
      .orderBy("ingested_at")
      .execute();
    expect(runs).toEqual([
      { run_id: first.runId, current: false },
      { run_id: second.runId, current: true },
    ]);

    // A plain sum over the table is the metric, however many runs there were.
    const sums = await database.db
      .selectFrom("deaths_by_vehicle")
      .select(["vehicle", (eb) => eb.fn.sum<string>("number_deaths").as("deaths")])
      .where("source", "=", "Renewed")
      .groupBy("vehicle")
      .execute();
    const expected = referenceDeaths(await readFile(`${SAMPLES}amostra_via_norte.csv`)).byVehicle;
    expect(Object.fromEntries(sums.map((row) => [row.vehicle, Number(row.deaths)]))).toEqual(expected);
  });

  it("files a run older than the current snapshot that finishes late under history, leaving the current figures", async () => {
    const older = await ingest({ url: `${files.baseUrl}/amostra_via_norte.csv`, source: "Late" });
    const newer = await ingest({ url: `${files.baseUrl}/amostra_via_sul_bom.csv`, source: "Late" });
    await deaths(newer);
    const current = await tableRows("Late");
    const late = await deaths(older);
    expect(await fullSummary(late)).toMatchObject({ current: false, replaced: null });
    expect(late.message).toContain(
      "older than the source's current snapshot, so kept in deaths_by_vehicle_history",
    );
    expect(await tableRows("Late")).toEqual(current);
    const history = await database.db
      .selectFrom("deaths_by_vehicle_history")
      .select("created_at")
      .distinct()
      .where("source", "=", "Late")
      .execute();
    expect(history.map((row) => row.created_at.toISOString())).toEqual([older.ingestedAt]);
    expect(await snapshots("accidents_by_road_year", "Late")).toEqual([newer.ingestedAt]);
    expect(await snapshots("accidents_by_road_year_history", "Late")).toEqual([older.ingestedAt]);
  });

  it("records each run's lineage in pipeline_runs, in the same transaction as its figures", async () => {
    const run = await ingest({
      url: `${files.baseUrl}/amostra_via_norte.csv?token=s3cr3t`,
      source: "Lineage",
    });
    const summary = await deaths(run);
    const row = await database.db
      .selectFrom("pipeline_runs")
      .selectAll()
      .where("run_id", "=", run.runId)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      source: "Lineage",
      status: "succeeded",
      current: true,
      origin: `${files.baseUrl}/amostra_via_norte.csv?token=***`,
      sha256: run.sha256,
      raw_key: run.rawKey,
      clean_key: run.key,
      rejects_key: summary.keys.rejects,
      rows_read: summary.rowsRead,
      rows_accepted: summary.rowsAccepted,
      rows_rejected: summary.rowsRejected,
      roads: summary.roads,
      total_deaths: summary.totalDeaths,
      error: null,
    });
    expect(Number(row.bytes)).toBe(run.bytes);
    expect(row.ingested_at.toISOString()).toBe(run.ingestedAt);
    expect(row.finished_at.getTime()).toBeGreaterThanOrEqual(row.ingested_at.getTime());
    // Retried: the same row, updated in place.
    await deaths(run);
    const rows = await database.db
      .selectFrom("pipeline_runs")
      .select("run_id")
      .where("source", "=", "Lineage")
      .execute();
    expect(rows).toHaveLength(1);
  });

  it("writes nothing when the transaction fails half-way, and keeps the previous rows", async () => {
    await deaths(norte);
    const before = await tableRows("Norte");
    // A real trigger, in the real database, that fails the insert of one particular road mid-transaction.
    await sql`create function refuse_contorno() returns trigger language plpgsql as $$
      begin if new.road_name = 'CONTORNO' then raise exception 'refused by test trigger'; end if; return new; end $$`.execute(
      database.db,
    );
    await sql`create trigger refuse_contorno before insert on deaths_by_vehicle
      for each row execute function refuse_contorno()`.execute(database.db);
    try {
      await expect(deaths(norte)).rejects.toMatchObject({
        // A trigger's exception (SQLSTATE P0001) fails the same way every time: not retryable.
        name: "DatabaseError",
        message: expect.stringContaining("refused by test trigger"),
      });
      expect(await tableRows("Norte")).toEqual(before);
    } finally {
      await sql`drop trigger refuse_contorno on deaths_by_vehicle`.execute(database.db);
      await sql`drop function refuse_contorno()`.execute(database.db);
    }
  });

  it("names an unreachable database as retryable, after writing the rejects object", async () => {
    // Port 1 on loopback refuses connections: the same failure as a database that is restarting.
    const unreachable = await createDatabase({ kind: "url", url: "postgres://postgres@127.0.0.1:1/none" });
    try {
      const handler = createDeathsHandler({ store: storage.deaths.store, db: unreachable });
      await expect(handler(norte)).rejects.toMatchObject({
        name: "DatabaseUnavailableError",
        message: expect.stringContaining("cannot write deaths_by_vehicle for Norte"),
      });
    } finally {
      await unreachable.destroy();
    }
  });

  it("writes a summary a person can read to runs/<run>/<source>.json, and returns its counts and keys", async () => {
    const result = await deaths(norte);
    const summary = await fullSummary(result);
    expect(result).toEqual({
      message: summary.message,
      source: "Norte",
      createdAt: norte.ingestedAt,
      current: true,
      rowsRead: summary.rowsRead,
      rowsAccepted: summary.rowsAccepted,
      rowsRejected: summary.rowsRejected,
      roads: summary.roads,
      rowsWritten: summary.rowsWritten,
      totalDeaths: summary.totalDeaths,
      deathsByVehicle: summary.deathsByVehicle,
      bucket: storage.bucket,
      // No execution in this event: the run's own id names the folder.
      keys: { summary: `runs/${norte.runId}/Norte.json`, rejects: summary.rejects.key, clean: norte.key },
    });
    // What Step Functions carries per link: a few hundred bytes, against the summary's few KB.
    expect(JSON.stringify(result).length).toBeLessThan(1024);
    expect(summary.url).toBe(norte.url);
    expect(summary.table).toBe("deaths_by_vehicle");
    expect(summary.createdAt).toBe(norte.ingestedAt);
    expect(summary.message).toMatch(
      new RegExp(
        `^Norte: ${summary.totalDeaths} deaths on ${summary.roads} roads from ${summary.rowsAccepted} accidents; 3 rows rejected; worst road BR-116/BA`,
      ),
    );
    const worst = summary.worstRoads.map((road) => road.deaths);
    expect(worst).toEqual([...worst].sort((a, b) => b - a));
    expect(summary.worstRoads.length).toBeLessThanOrEqual(5);
    expect(JSON.stringify(summary).length).toBeLessThan(8 * 1024);
  });

  it("names the summary object after the execution when the event carries one (the state machine's $$.Execution.Id)", async () => {
    const execution = "arn:aws:states:us-east-1:123456789012:execution:roadtoll-pipeline:nightly/2026 11";
    const result = await deaths({ ...norte, execution });
    expect(result.keys.summary).toBe("runs/nightly_2026_11/Norte.json");
    expect(await fullSummary(result)).toMatchObject({ execution, source: "Norte" });
  });

  it("rejects an event that is not an ingest result", async () => {
    await expect(deaths({ key: "clean/x.csv" })).rejects.toMatchObject({ name: "InvalidEventError" });
    await expect(deaths({ ...norte, key: "raw/x.csv" })).rejects.toMatchObject({ name: "InvalidEventError" });
    await expect(deaths({ ...norte, bucket: "another-bucket" })).rejects.toMatchObject({
      name: "InvalidEventError",
    });
  });

  it("names the missing object", async () => {
    await expect(deaths({ ...norte, key: "clean/Norte/nothing.csv" })).rejects.toMatchObject({
      name: "ObjectNotFoundError",
      where: { resource: "clean/Norte/nothing.csv" },
    });
  });
});

/** A clean object as the ingest step writes it (docs/layout.md), put straight into S3. */
const CLEAN_HEADER = "trecho,automovel,bicicleta,caminhao,moto,onibus,mortos,source_line,road_name";
const cleanRow = {
  good: (line: number) => `BR-101/SC,1,,,,,1,${line},BR-101/SC`,
  /** One source field missing: 6 + the two appended columns. */
  short: (line: number) => `BR-101/SC,1,,,,1,${line},BR-101/SC`,
  negative: (line: number) => `BR-101/SC,1,,,,,-1,${line},BR-101/SC`,
  otherRoad: (line: number) => `BR-116/SC,,,1,,,2,${line},BR-116/SC`,
  thirdRoad: (line: number) => `BR-470/SC,,,,1,,3,${line},BR-470/SC`,
  billion: (line: number) => `BR-101/SC,1,,,,,1000000000,${line},BR-101/SC`,
  /** 2^53 − 1: a count JavaScript still reads exactly, but no file total can hold it beside any other death. */
  largestExact: (line: number) => `BR-101/SC,1,,,,,9007199254740991,${line},BR-101/SC`,
  /** 2^64: no count at all. */
  beyondBigint: (line: number) => `BR-101/SC,1,,,,,18446744073709551616,${line},BR-101/SC`,
};

let runs = 0;
/** Puts a clean object made of `rows` (kinds, in order) and returns the deaths event for it. */
async function cleanObject(source: string, rows: Array<keyof typeof cleanRow>) {
  runs++;
  const runId = `20240101T0000${String(runs).padStart(2, "0")}Z-gate`;
  const key = `clean/${source}/${runId}.csv`;
  // Source line 1 is the header, so data rows start at line 2.
  const body = [CLEAN_HEADER, ...rows.map((kind, i) => cleanRow[kind](i + 2))].join("\n");
  await storage.s3.send(
    new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: `${body}\n`, ContentType: "text/csv" }),
  );
  const ingestedAt = new Date(Date.UTC(2024, 0, 1, 0, 0, runs)).toISOString();
  return { bucket: storage.bucket, key, source, runId, ingestedAt };
}

/** A deaths handler that lets any share of rejects through (MAX_REJECT_SHARE=1). */
const lenientHandler = () =>
  createDeathsHandler({
    store: storage.deaths.store,
    db: database.db,
    maxRejectShare: 1,
    allowDuplicates: true,
  });

const repeat = <T>(value: T, times: number): T[] => Array.from({ length: times }, () => value);

async function rejectLines(key: string): Promise<string[]> {
  return (await storage.bytes(key)).toString("utf8").trimEnd().split("\n");
}

describe(`deaths handler: the reject-share gate (database: ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"})`, () => {
  it("fails a file whose every row is rejected, writes nothing and keeps every row in the rejects object", async () => {
    const event = await cleanObject("AllRejected", ["short", "negative", "short"]);
    const rejectsKey = `rejects/AllRejected/${event.runId}.csv`;
    const error = await deaths(event).then(
      () => expect.unreachable("a file with no usable row must not succeed"),
      (thrown: unknown) => thrown,
    );
    expect(error).toMatchObject({ name: "TooManyRejectsError", where: { resource: event.key } });
    expect((error as Error).message).toBe(
      `${event.key}: 3 of 3 rows rejected (100.0%), more than the 5.0% allowed (MAX_REJECT_SHARE=0.05); ` +
        "most common: wrong number of fields ×2, mortos: negative count ×1; nothing written; " +
        `rejects kept at s3://${storage.bucket}/${rejectsKey}`,
    );
    expect(await tableRows("AllRejected")).toEqual([]);
    // The run is on record, as rejected and why, with no figures.
    const run = await database.db
      .selectFrom("pipeline_runs")
      .selectAll()
      .where("run_id", "=", event.runId)
      .executeTakeFirstOrThrow();
    expect(run).toMatchObject({
      status: "rejected",
      current: false,
      rows_read: 3,
      rows_rejected: 3,
      // The same counts the error names, as data.
      reject_kinds: [
        { column: "", kind: "wrong number of fields", count: 2 },
        { column: "mortos", kind: "negative count", count: 1 },
      ],
      rejects_key: rejectsKey,
      total_deaths: 0,
      error: (error as Error).message,
    });
    // Every row, by its source line, with its reason (how the row itself is echoed is the reader's business).
    const kept = await rejectLines(rejectsKey);
    expect(kept[0]).toBe("line,column,kind,reason,row");
    expect(kept.slice(1).map((line) => line.split(",").slice(0, 2))).toEqual([
      ["2", ""],
      ["3", "mortos"],
      ["4", ""],
    ]);
    expect(kept[2]).toContain("negative count -1");
  });

  it("fails it even when MAX_REJECT_SHARE=1 allows any share: no usable row never ends succeeded", async () => {
    const lenient = lenientHandler();
    const event = await cleanObject("AllRejectedLenient", ["negative", "negative"]);
    await expect(lenient(event)).rejects.toMatchObject({
      name: "TooManyRejectsError",
      message: expect.stringContaining("2 of 2 rows rejected (100.0%), no row left to count"),
    });
    expect(await tableRows("AllRejectedLenient")).toEqual([]);
    // With one usable row, the same lenient limit lets 2 rejects in 3 through.
    const summary = await lenient(await cleanObject("AllRejectedLenient", ["negative", "good", "short"]));
    expect(summary).toMatchObject({ rowsRead: 3, rowsRejected: 2, rowsAccepted: 1 });
  });

  it("writes a share at the limit (5 in 100), fails one just over it (6 in 100) and keeps the earlier snapshot", async () => {
    const atLimit = await cleanObject("Share", [
      ...repeat("good" as const, 95),
      ...repeat("negative" as const, 5),
    ]);
    const summary = await deaths(atLimit);
    expect(summary).toMatchObject({ rowsRead: 100, rowsRejected: 5, rowsAccepted: 95, totalDeaths: 95 });
    const written = await tableRows("Share");
    expect(written).toHaveLength(5);

    const over = await cleanObject("Share", [...repeat("good" as const, 94), ...repeat("short" as const, 6)]);
    await expect(deaths(over)).rejects.toMatchObject({
      name: "TooManyRejectsError",
      message: expect.stringContaining("6 of 100 rows rejected (6.0%), more than the 5.0% allowed"),
    });
    // Nothing of the refused run is in the table; the earlier snapshot is untouched.
    expect(await tableRows("Share")).toEqual(written);
    expect(await rejectLines(`rejects/Share/${over.runId}.csv`)).toHaveLength(1 + 6);
  });

  it("takes the limit from its dependencies: 0 allows no reject at all", async () => {
    const strict = createDeathsHandler({
      store: storage.deaths.store,
      db: database.db,
      maxRejectShare: 0,
      allowDuplicates: true,
    });
    await expect(
      strict(await cleanObject("Strict", ["good", "good", "good", "negative"])),
    ).rejects.toMatchObject({
      name: "TooManyRejectsError",
      message: expect.stringContaining(
        "1 of 4 rows rejected (25.0%), more than the 0.0% allowed (MAX_REJECT_SHARE=0)",
      ),
    });
    expect(await tableRows("Strict")).toEqual([]);
    await expect(strict(await cleanObject("Strict", ["good", "good"]))).resolves.toMatchObject({
      rowsRejected: 0,
    });
  });

  it("stores figures past 2,147,483,647 and rejects, row by row, only what no total can hold", async () => {
    const lenient = lenientHandler();
    const event = await cleanObject("Billions", [
      "billion",
      "largestExact",
      "billion",
      "beyondBigint",
      "billion",
    ]);
    const summary = await lenient(event);
    expect(summary).toMatchObject({
      rowsRead: 5,
      rowsAccepted: 3,
      rowsRejected: 2,
      totalDeaths: 3_000_000_000,
    });
    expect((await tableRows("Billions")).find((row) => row.vehicle === "automovel")).toMatchObject({
      number_deaths: 3_000_000_000,
    });
    const year = await database.db
      .selectFrom("accidents_by_road_year")
      .select(["accidents", "deaths", "deaths_automovel"])
      .where("source", "=", "Billions")
      .executeTakeFirstOrThrow();
    expect(year).toEqual({ accidents: 3, deaths: 3_000_000_000, deaths_automovel: 3_000_000_000 });
    const run = await database.db
      .selectFrom("pipeline_runs")
      .select(["total_deaths", "rows_rejected"])
      .where("run_id", "=", event.runId)
      .executeTakeFirstOrThrow();
    expect(run).toEqual({ total_deaths: 3_000_000_000, rows_rejected: 2 });
    const kept = await rejectLines(`rejects/Billions/${event.runId}.csv`);
    expect(kept).toHaveLength(3);
    expect(kept[1]).toMatch(
      /^3,mortos,file total too large,"with this row the file's deaths would pass 9,007,199,254,740,991",/,
    );
    expect(kept[2]).toMatch(/^5,mortos,count too large,"count ""18446744073709551616"" is too large",/);
  });

  it("fails a file past its road-years limit at the row that passes it, writes nothing, and the next run succeeds", async () => {
    const bounded = createDeathsHandler({
      store: storage.deaths.store,
      db: database.db,
      maxRoadYears: 2,
      allowDuplicates: true,
    });
    await bounded(await cleanObject("Wide", ["good", "otherRoad"]));
    const written = await tableRows("Wide");
    expect(written).toHaveLength(2 * VEHICLE_NAMES.length);

    const wide = await cleanObject("Wide", ["good", "otherRoad", "good", "thirdRoad", "good"]);
    await expect(bounded(wide)).rejects.toMatchObject({
      name: "TooManyRoadsError",
      where: { resource: wide.key, line: 5, column: "trecho" },
      message: expect.stringContaining("more than 2 distinct road-years"),
    });
    // The figures are the earlier run's, and no run of the refused file was recorded as current.
    expect(await tableRows("Wide")).toEqual(written);
    const refused = await database.db
      .selectFrom("pipeline_runs")
      .select("run_id")
      .where("run_id", "=", wide.runId)
      .execute();
    expect(refused).toEqual([]);

    const next = await bounded(await cleanObject("Wide", ["otherRoad", "otherRoad", "good"]));
    expect(next).toMatchObject({ roads: 2, totalDeaths: 2 + 2 + 1, rowsRejected: 0, current: true });
    expect(
      (await tableRows("Wide")).find((row) => row.road_name === "BR-116/SC" && row.vehicle === "caminhao"),
    ).toMatchObject({ number_deaths: 4 });
  });

  it("fails a file with a header and no data row, keeping the header-only rejects object", async () => {
    const event = await cleanObject("HeaderOnly", []);
    await expect(deaths(event)).rejects.toMatchObject({
      name: "NoDataError",
      where: { resource: event.key },
      message: expect.stringMatching(new RegExp(`^${event.key}: the file has a header but no data rows`)),
    });
    expect(await tableRows("HeaderOnly")).toEqual([]);
    expect(await rejectLines(`rejects/HeaderOnly/${event.runId}.csv`)).toEqual([
      "line,column,kind,reason,row",
    ]);
  });
});
