import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDownloader } from "../src/adapters/http-download.js";
import { loadDownloadConfig } from "../src/config.js";
import { createDatabase } from "../src/db/database.js";
import { createDeathsHandler, type DeathsHandler } from "../src/handlers/deaths-handler.js";
import { createIngestHandler, type IngestHandler } from "../src/handlers/ingest-handler.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import type { IngestResult } from "../src/pipeline/ingest-link.js";
import { openTestDatabase, type TestDatabase } from "./support/database.js";
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
    store: storage.store,
    download: createDownloader(loadDownloadConfig({})),
    links: {},
  });
  deaths = createDeathsHandler({ store: storage.store, db: database.db });
  norte = await ingest({ url: `${files.baseUrl}/amostra_via_norte.csv`, source: "Norte" });
});

afterAll(async () => {
  await files?.close();
  await database?.close();
  await storage?.close();
});

async function tableRows(source: string) {
  return database.db
    .selectFrom("deaths_by_vehicle")
    .selectAll()
    .where("source", "=", source)
    .orderBy("road_name")
    .orderBy("vehicle")
    .execute();
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
    const summary = await deaths(norte);
    expect(summary.rejects.key).toBe(`rejects/Norte/${norte.runId}.csv`);
    const rejects = (await storage.bytes(summary.rejects.key)).toString("utf8").trimEnd().split("\n");
    // The generator places these rows after data rows 50, 120 and 200 (+ header, + earlier oddities).
    expect(rejects).toEqual([
      "line,column,reason,row",
      '53,,"expected 23 fields, found 22",12/03/2021;14:10:00;9001;com vítima;101;BR-116/BA;Norte;Tombamento;1;;;;;;;;;;;;;1',
      // The km "12,5" has a comma, so the row cell is quoted.
      '124,caminhao,"not a whole number: ""x""","13/03/2021;08:00:00;9002;com vítima;12,5;BR-116/BA;Sul;Tombamento;1;;x;;;;;;;;;;;;2"',
      "205,caminhao,negative count -1,14/03/2021;09:30:00;9003;com vítima;7;BR-070/MT;Sul;Tombamento;1;0;-1;0;1;0;0;0;0;0;0;0;1;0;1",
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

  it("keeps earlier snapshots: a new ingest of the same source adds a snapshot, not a replacement", async () => {
    const later = await ingest({ url: `${files.baseUrl}/amostra_via_norte.csv`, source: "Norte" });
    await deaths(norte);
    await deaths(later);
    const snapshots = await database.db
      .selectFrom("deaths_by_vehicle")
      .select("created_at")
      .distinct()
      .where("source", "=", "Norte")
      .execute();
    expect(snapshots.map((row) => row.created_at.toISOString()).sort()).toEqual(
      [norte.ingestedAt, later.ingestedAt].sort(),
    );
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
      const handler = createDeathsHandler({ store: storage.store, db: unreachable });
      await expect(handler(norte)).rejects.toMatchObject({
        name: "DatabaseUnavailableError",
        message: expect.stringContaining("cannot write deaths_by_vehicle for Norte"),
      });
    } finally {
      await unreachable.destroy();
    }
  });

  it("returns a summary a person can read", async () => {
    const summary = await deaths(norte);
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
      where: { file: "clean/Norte/nothing.csv" },
    });
  });
});
