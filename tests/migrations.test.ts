import { sql } from "kysely";
import { Migrator } from "kysely/migration";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDown, migrateToLatest } from "../src/db/migrate.js";
import { migrationProvider } from "../src/db/migrations/index.js";
import { openTestDatabase, type TestDatabase } from "./support/database.js";

let database: TestDatabase;

beforeAll(async () => {
  database = await openTestDatabase({ migrate: false });
});

afterAll(async () => {
  await database?.close();
});

const row = {
  created_at: new Date("2026-11-25T12:00:00.000Z"),
  source: "Via_Sul",
  road_name: "BR-290/RS",
  vehicle: "moto" as const,
  number_deaths: 3,
};

describe(`migrations (database: ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"})`, () => {
  it("reports every step, then that there is nothing left to do", async () => {
    const lines: string[] = [];
    await expect(migrateToLatest(database.db, (line) => lines.push(line))).resolves.toEqual({
      applied: [
        "0001-create-deaths-by-vehicle",
        "0002-create-writer-role",
        "0003-current-snapshot-history-and-runs",
        "0004-source-validators",
        "0005-accidents-by-road-year",
        "0006-forgotten-sources",
        "0007-reader-role",
        "0008-bigint-counts",
        "0009-reject-kinds",
      ],
    });
    expect(lines).toEqual([
      "migration 0001-create-deaths-by-vehicle (up): Success",
      "migration 0002-create-writer-role (up): Success",
      "migration 0003-current-snapshot-history-and-runs (up): Success",
      "migration 0004-source-validators (up): Success",
      "migration 0005-accidents-by-road-year (up): Success",
      "migration 0006-forgotten-sources (up): Success",
      "migration 0007-reader-role (up): Success",
      "migration 0008-bigint-counts (up): Success",
      "migration 0009-reject-kinds (up): Success",
    ]);
    const again: string[] = [];
    await expect(migrateToLatest(database.db, (line) => again.push(line))).resolves.toEqual({ applied: [] });
    expect(again).toEqual(["migrations: already up to date"]);
  });

  it("creates deaths_by_vehicle with the documented columns and types", async () => {
    const { rows } = await sql<{ column_name: string; data_type: string; is_nullable: string }>`
      select column_name, data_type, is_nullable from information_schema.columns
      where table_name = 'deaths_by_vehicle' order by ordinal_position`.execute(database.db);
    expect(rows).toEqual([
      { column_name: "created_at", data_type: "timestamp with time zone", is_nullable: "NO" },
      { column_name: "source", data_type: "text", is_nullable: "NO" },
      { column_name: "road_name", data_type: "text", is_nullable: "NO" },
      { column_name: "vehicle", data_type: "text", is_nullable: "NO" },
      { column_name: "number_deaths", data_type: "bigint", is_nullable: "NO" },
    ]);
  });

  it.each([
    ["a vehicle outside the five", { vehicle: "trem" }],
    ["negative deaths", { number_deaths: -1 }],
    ["an empty road name", { road_name: "" }],
    ["an empty source", { source: "" }],
  ])("refuses %s", async (_label, change) => {
    await expect(
      database.db
        .insertInto("deaths_by_vehicle")
        .values({ ...row, ...change } as typeof row)
        .execute(),
    ).rejects.toThrow(/check constraint/);
  });

  it("keys rows by source, snapshot, road and vehicle so a snapshot cannot hold duplicates", async () => {
    await database.db.insertInto("deaths_by_vehicle").values(row).execute();
    await expect(database.db.insertInto("deaths_by_vehicle").values(row).execute()).rejects.toThrow(
      /duplicate key|unique/,
    );
    await database.db
      .insertInto("deaths_by_vehicle")
      .values({ ...row, source: "Via_Costeira" })
      .execute();
  });

  it("grants roadtoll_writer reading and replacing rows, and no more", async () => {
    const { rows } = await sql<{ privilege_type: string }>`
      select privilege_type from information_schema.role_table_grants
      where grantee = 'roadtoll_writer' and table_name = 'deaths_by_vehicle' order by privilege_type`.execute(
      database.db,
    );
    expect(rows.map((row) => row.privilege_type)).toEqual(["DELETE", "INSERT", "SELECT"]);
  });

  it("0004 adds the source's validators to pipeline_runs, nullable, and takes them away again", async () => {
    const columns = async () =>
      (
        await sql<{ column_name: string; is_nullable: string }>`
          select column_name, is_nullable from information_schema.columns
          where table_name = 'pipeline_runs' and column_name like 'source_%' order by column_name`.execute(
          database.db,
        )
      ).rows;
    expect(await columns()).toEqual([
      { column_name: "source_etag", is_nullable: "YES" },
      { column_name: "source_last_modified", is_nullable: "YES" },
    ]);
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0009-reject-kinds"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0008-bigint-counts"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0007-reader-role"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0006-forgotten-sources"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0005-accidents-by-road-year"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0004-source-validators"] });
    expect(await columns()).toEqual([]);
    await expect(migrateToLatest(database.db)).resolves.toEqual({
      applied: [
        "0004-source-validators",
        "0005-accidents-by-road-year",
        "0006-forgotten-sources",
        "0007-reader-role",
        "0008-bigint-counts",
        "0009-reject-kinds",
      ],
    });
  });

  it("migrates down (revoking, then dropping the table) and up again", async () => {
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0009-reject-kinds"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0008-bigint-counts"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0007-reader-role"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0006-forgotten-sources"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0005-accidents-by-road-year"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0004-source-validators"] });
    await expect(migrateDown(database.db)).resolves.toEqual({
      applied: ["0003-current-snapshot-history-and-runs"],
    });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0002-create-writer-role"] });
    const { rows } = await sql`
      select 1 from information_schema.role_table_grants where grantee = 'roadtoll_writer'`.execute(
      database.db,
    );
    expect(rows).toEqual([]);
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0001-create-deaths-by-vehicle"] });
    await expect(sql`select 1 from deaths_by_vehicle`.execute(database.db)).rejects.toThrow(/does not exist/);
    await expect(migrateToLatest(database.db)).resolves.toEqual({
      applied: [
        "0001-create-deaths-by-vehicle",
        "0002-create-writer-role",
        "0003-current-snapshot-history-and-runs",
        "0004-source-validators",
        "0005-accidents-by-road-year",
        "0006-forgotten-sources",
        "0007-reader-role",
        "0008-bigint-counts",
        "0009-reject-kinds",
      ],
    });
  });

  it("0003 keeps each source's newest snapshot current and moves the older ones to history, and back down", async () => {
    const migrator = new Migrator({ db: database.db, provider: migrationProvider });
    await migrator.migrateTo("0002-create-writer-role");
    await sql`delete from deaths_by_vehicle`.execute(database.db);
    const at = (day: number) => new Date(Date.UTC(2026, 10, day));
    const rows = [
      { ...row, source: "A", created_at: at(1), number_deaths: 1 },
      { ...row, source: "A", created_at: at(3), number_deaths: 3 },
      { ...row, source: "A", created_at: at(2), number_deaths: 2 },
      { ...row, source: "B", created_at: at(1), number_deaths: 7 },
    ];
    await database.db.insertInto("deaths_by_vehicle").values(rows).execute();
    await migrateToLatest(database.db);
    const current = await database.db
      .selectFrom("deaths_by_vehicle")
      .select(["source", "number_deaths"])
      .orderBy("source")
      .execute();
    expect(current).toEqual([
      { source: "A", number_deaths: 3 },
      { source: "B", number_deaths: 7 },
    ]);
    const history = await database.db
      .selectFrom("deaths_by_vehicle_history")
      .select(["source", "number_deaths"])
      .orderBy("number_deaths")
      .execute();
    expect(history).toEqual([
      { source: "A", number_deaths: 1 },
      { source: "A", number_deaths: 2 },
    ]);
    // Down puts every snapshot back where 0002 kept them.
    await migrator.migrateTo("0002-create-writer-role");
    const all = await database.db.selectFrom("deaths_by_vehicle").select("number_deaths").execute();
    expect(all.map((r) => r.number_deaths).sort()).toEqual([1, 2, 3, 7]);
    await migrateToLatest(database.db);
  });
  it("0005 adds accidents_by_road_year beside existing snapshots, leaving them as they were, and back down", async () => {
    const migrator = new Migrator({ db: database.db, provider: migrationProvider });
    await migrator.migrateTo("0004-source-validators");
    await sql`delete from deaths_by_vehicle`.execute(database.db);
    await database.db.insertInto("deaths_by_vehicle").values(row).execute();
    await expect(migrateToLatest(database.db)).resolves.toEqual({
      applied: [
        "0005-accidents-by-road-year",
        "0006-forgotten-sources",
        "0007-reader-role",
        "0008-bigint-counts",
        "0009-reject-kinds",
      ],
    });
    expect(await database.db.selectFrom("deaths_by_vehicle").selectAll().execute()).toEqual([row]);
    // The files are not in the database: an existing snapshot gets its rows with the source's next run.
    expect(await database.db.selectFrom("accidents_by_road_year").selectAll().execute()).toEqual([]);
    for (const table of ["accidents_by_road_year", "accidents_by_road_year_history"]) {
      const { rows } = await sql<{ privilege_type: string }>`
        select privilege_type from information_schema.role_table_grants
        where grantee = 'roadtoll_writer' and table_name = ${table}`.execute(database.db);
      expect(rows.map((grant) => grant.privilege_type)).toEqual(
        expect.arrayContaining(["DELETE", "INSERT", "SELECT"]),
      );
    }

    const year = {
      created_at: row.created_at,
      source: "A",
      road_name: "BR-101/SC",
      year: null,
      accidents: 2,
      deaths: 1,
      deaths_automovel: 1,
      deaths_bicicleta: 0,
      deaths_caminhao: 0,
      deaths_moto: 1,
      deaths_onibus: 0,
    };
    await database.db.insertInto("accidents_by_road_year").values(year).execute();
    // The unknown year is one key like any other: a retried step cannot add a second row for it.
    await expect(database.db.insertInto("accidents_by_road_year").values(year).execute()).rejects.toThrow(
      /duplicate key|unique/,
    );
    await database.db
      .insertInto("accidents_by_road_year")
      .values({ ...year, year: 2021 })
      .execute();
    for (const change of [{ deaths_moto: 2 }, { accidents: 0 }, { year: 0 }, { road_name: "" }]) {
      await expect(
        database.db
          .insertInto("accidents_by_road_year")
          .values({ ...year, year: 2020, ...change })
          .execute(),
        JSON.stringify(change),
      ).rejects.toThrow(/check constraint/);
    }

    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0009-reject-kinds"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0008-bigint-counts"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0007-reader-role"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0006-forgotten-sources"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0005-accidents-by-road-year"] });
    await expect(sql`select 1 from accidents_by_road_year_history`.execute(database.db)).rejects.toThrow(
      /does not exist/,
    );
    expect(await database.db.selectFrom("deaths_by_vehicle").selectAll().execute()).toEqual([row]);
    await migrateToLatest(database.db);
  });

  it("0006 lets a run be forgotten, without files, and takes such runs away again", async () => {
    const run = {
      run_id: "forget-1",
      source: "A",
      status: "forgotten" as const,
      current: false,
      ingested_at: new Date("2025-01-02T00:00:00Z"),
      finished_at: new Date("2025-01-02T00:00:00Z"),
      origin: null,
      sha256: null,
      bytes: null,
      raw_key: null,
      clean_key: null,
      rejects_key: null,
      rows_read: 0,
      rows_accepted: 0,
      rows_rejected: 0,
      roads: 0,
      total_deaths: 0,
      execution: null,
      error: "forgotten",
    };
    await database.db.insertInto("pipeline_runs").values(run).execute();
    await expect(
      database.db
        .insertInto("pipeline_runs")
        .values({ ...run, run_id: "odd", status: "odd" as "forgotten" })
        .execute(),
    ).rejects.toThrow(/check constraint/);
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0009-reject-kinds"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0008-bigint-counts"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0007-reader-role"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0006-forgotten-sources"] });
    expect(
      await database.db
        .selectFrom("pipeline_runs")
        .select("run_id")
        .where("run_id", "=", "forget-1")
        .execute(),
    ).toEqual([]);
    await expect(database.db.insertInto("pipeline_runs").values(run).execute()).rejects.toThrow(
      /check constraint|not-null|null value/,
    );
    await migrateToLatest(database.db);
  });

  it("0008 stores counts as bigint, keeping the rows there were, and back down", async () => {
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0009-reject-kinds"] });
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0008-bigint-counts"] });
    await database.db.deleteFrom("deaths_by_vehicle").execute();
    await database.db.insertInto("deaths_by_vehicle").values(row).execute();
    await expect(
      database.db
        .insertInto("deaths_by_vehicle")
        .values({ ...row, source: "Big", number_deaths: 3_000_000_000 })
        .execute(),
    ).rejects.toThrow(/out of range/);
    await expect(migrateToLatest(database.db)).resolves.toEqual({
      applied: ["0008-bigint-counts", "0009-reject-kinds"],
    });
    await database.db
      .insertInto("deaths_by_vehicle")
      .values({ ...row, source: "Big", number_deaths: 3_000_000_000 })
      .execute();
    // Read back as numbers by both drivers (db/int8.ts), the old row unchanged.
    expect(await database.db.selectFrom("deaths_by_vehicle").selectAll().orderBy("source").execute()).toEqual(
      [{ ...row, source: "Big", number_deaths: 3_000_000_000 }, row],
    );
    const { rows } = await sql<{ table_name: string; column_name: string }>`
      select table_name, column_name from information_schema.columns
      where table_schema = 'public' and data_type = 'integer' and table_name not like 'kysely%'
      order by table_name, column_name`.execute(database.db);
    // Only the year is left an integer.
    expect(rows).toEqual([
      { table_name: "accidents_by_road_year", column_name: "year" },
      { table_name: "accidents_by_road_year_history", column_name: "year" },
    ]);
    await database.db.deleteFrom("deaths_by_vehicle").where("source", "=", "Big").execute();
  });

  it("0009 keeps each run's rejects by kind as a JSON array, read back as data, and back down", async () => {
    const kinds = [
      { column: "mortos", kind: "negative count", count: 2 },
      { column: "", kind: "wrong number of fields", count: 1 },
    ];
    const run = {
      run_id: "kinds-1",
      source: "K",
      status: "rejected" as const,
      current: false,
      ingested_at: new Date("2025-01-03T00:00:00Z"),
      finished_at: new Date("2025-01-03T00:00:00Z"),
      clean_key: "clean/K/kinds-1.csv",
      rejects_key: "rejects/K/kinds-1.csv",
      rows_read: 3,
      rows_accepted: 0,
      rows_rejected: 3,
      roads: 0,
      total_deaths: 0,
      error: "too many rejects",
    };
    await database.db
      .insertInto("pipeline_runs")
      .values({ ...run, reject_kinds: JSON.stringify(kinds) })
      .execute();
    const read = async (id: string) =>
      (
        await database.db
          .selectFrom("pipeline_runs")
          .select("reject_kinds")
          .where("run_id", "=", id)
          .execute()
      )[0]?.reject_kinds;
    // Parsed by both drivers: the report reads the counts without parsing anything.
    expect(await read("kinds-1")).toEqual(kinds);
    await database.db
      .insertInto("pipeline_runs")
      .values({ ...run, run_id: "kinds-old" })
      .execute();
    expect(await read("kinds-old")).toBeNull();
    await expect(
      database.db
        .insertInto("pipeline_runs")
        .values({ ...run, run_id: "kinds-odd", reject_kinds: JSON.stringify({ count: 1 }) })
        .execute(),
    ).rejects.toThrow(/check constraint/);
    await expect(migrateDown(database.db)).resolves.toEqual({ applied: ["0009-reject-kinds"] });
    expect(
      await database.db.selectFrom("pipeline_runs").select("run_id").where("source", "=", "K").execute(),
    ).toHaveLength(2);
    await expect(migrateToLatest(database.db)).resolves.toEqual({ applied: ["0009-reject-kinds"] });
    expect(await read("kinds-1")).toBeNull();
    await database.db.deleteFrom("pipeline_runs").where("source", "=", "K").execute();
  });
});
