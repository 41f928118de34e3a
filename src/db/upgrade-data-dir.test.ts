import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite as OlderPGlite } from "@electric-sql/pglite-17";
import { Kysely, PGliteDialect } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { isRoadtollError } from "../errors.js";
import { openLocalDatabase } from "../local/open-database.js";
import { createEmbeddedDatabase } from "./embedded-database.js";
import { migrateTo, migrateToLatest } from "./migrate.js";
import { dataDirState, OLDER_MAJOR, PGLITE_MAJOR } from "./upgrade-data-dir.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
const temporary = async () => {
  const dir = await mkdtemp(join(tmpdir(), "roadtoll-upgrade-"));
  dirs.push(dir);
  return dir;
};

const TABLES = [
  "accidents_by_road_year",
  "accidents_by_road_year_history",
  "deaths_by_vehicle",
  "deaths_by_vehicle_history",
  "kysely_migration",
  "kysely_migration_lock",
  "pipeline_runs",
];

/** Every row of every table as Postgres prints it, sorted: what an upgrade must carry over unchanged. */
async function contents(pglite: {
  query<T>(text: string): Promise<{ rows: T[] }>;
}): Promise<Record<string, string[]>> {
  const result: Record<string, string[]> = {};
  for (const table of TABLES) {
    const { rows } = await pglite.query<{ row: string }>(
      `select to_jsonb(t)::text as row from ${table} t order by 1`,
    );
    result[table] = rows.map((row) => row.row);
  }
  return result;
}

/**
 * A data directory as PGlite 0.4 (PostgreSQL 17) left it: roadtoll's schema up to `upTo`, then `fill`. Returns
 * what `contents` reads of it, taken before it is closed.
 */
async function writeOlder(
  dir: string,
  upTo: string | undefined,
  fill: (pglite: OlderPGlite) => Promise<void>,
): Promise<Record<string, string[]>> {
  const older = new OlderPGlite(dir);
  await older.waitReady;
  try {
    const db = new Kysely<unknown>({ dialect: new PGliteDialect({ pglite: older as never }) });
    await (upTo ? migrateTo(db, upTo) : migrateToLatest(db));
    await fill(older);
    return upTo ? {} : await contents(older);
  } finally {
    await older.close();
  }
}

async function fillLatest(pglite: OlderPGlite): Promise<void> {
  await pglite.exec(`
    insert into pipeline_runs (run_id, source, status, current, ingested_at, finished_at, origin, bytes, clean_key,
      rejects_key, rows_read, rows_accepted, rows_rejected, reject_kinds, roads, total_deaths)
    values ('run-1', 'ecovias', 'succeeded', true, '2026-01-02 03:04:05.123456+00', '2026-01-02 03:05:00+00',
      'https://example.test/a.csv', 5000000000, 'clean/ecovias.csv', 'rejects/ecovias.csv', 4100000000, 4099999997,
      3, '[{"column": "mortos", "kind": "negative count", "count": 3}]', 2, 7);
    insert into deaths_by_vehicle values
      ('2026-01-02 03:04:05.123456+00', 'ecovias', 'BR-116/SP – Régis "Bittencourt"', 'moto', 4),
      ('2026-01-02 03:04:05.123456+00', 'ecovias', 'BR-101/SP', 'onibus', 3000000000);
    insert into deaths_by_vehicle_history (created_at, source, road_name, vehicle, number_deaths, archived_at)
      select '2025-01-01+00'::timestamptz + g * interval '1 microsecond', 'ecovias', 'BR-' || g, 'automovel', g,
        '2026-01-02+00'
      from generate_series(1, 2345) g;
    insert into accidents_by_road_year values
      ('2026-01-02 03:04:05.123456+00', 'ecovias', 'BR-101/SP', null, 2, 1, 1, 0, 0, 0, 0),
      ('2026-01-02 03:04:05.123456+00', 'ecovias', 'BR-101/SP', 2024, 5, 3, 3, 0, 1, 2, 0);
  `);
}

describe("upgrading a PostgreSQL 17 data directory (PGlite 0.4) to PGlite 0.5", () => {
  it("copies every row of every table unchanged, swaps the new directory in and keeps the old one", async () => {
    const root = await temporary();
    const dir = join(root, "pglite");
    const before = await writeOlder(dir, undefined, fillLatest);
    expect(before.deaths_by_vehicle_history).toHaveLength(2345);
    expect(await dataDirState(dir)).toBe("older");

    const lines: string[] = [];
    const { db, pglite } = await createEmbeddedDatabase(dir, { log: (line) => lines.push(line) });
    try {
      expect(await contents(pglite)).toEqual(before);
      const run = await db.selectFrom("pipeline_runs").selectAll().executeTakeFirstOrThrow();
      expect(run.bytes).toBe(5_000_000_000);
      expect(run.reject_kinds).toEqual([{ column: "mortos", kind: "negative count", count: 3 }]);
      expect(run.ingested_at.toISOString()).toBe("2026-01-02T03:04:05.123Z");
    } finally {
      await db.destroy();
    }
    expect((await readFile(join(dir, "PG_VERSION"), "utf8")).trim()).toBe(PGLITE_MAJOR);
    expect((await readFile(join(`${dir}.pg17`, "PG_VERSION"), "utf8")).trim()).toBe(OLDER_MAJOR);
    expect(existsSync(`${dir}.upgrading`) || existsSync(`${dir}.upgraded`)).toBe(false);
    expect(lines.join("\n")).toMatch(/upgraded 7 tables, 2360 rows; .* kept as .*pglite\.pg17/);

    // Opened again, it is the current version's: nothing more is copied.
    const again = await createEmbeddedDatabase(dir, { log: (line) => lines.push(line) });
    expect(await contents(again.pglite)).toEqual(before);
    await again.db.destroy();
    expect(lines.filter((line) => line.includes("upgraded"))).toHaveLength(1);
  }, 120_000);

  it("gives rows the schema they were written under, then the migrations bring them up to date", async () => {
    const root = await temporary();
    const dir = join(root, "pglite");
    await writeOlder(dir, "0005-accidents-by-road-year", async (pglite) => {
      await pglite.exec(`
        insert into pipeline_runs (run_id, source, status, current, ingested_at, finished_at, clean_key,
          rejects_key, rows_read, rows_accepted, rows_rejected, roads, total_deaths)
        values ('run-old', 'ecovias', 'succeeded', true, '2024-05-06+00', '2024-05-06+00', 'clean/e.csv',
          'rejects/e.csv', 10, 10, 0, 1, 2);
        insert into deaths_by_vehicle values ('2024-05-06+00', 'ecovias', 'BR-101/SP', 'moto', 2);
      `);
    });
    const open = (use: "read" | "write") => openLocalDatabase({ use, dataDir: root, databaseUrl: undefined });

    // A read command changes nothing, and says what does.
    const refused = await open("read").catch((error: unknown) => error);
    expect(isRoadtollError(refused, "SchemaError")).toBe(true);
    expect(String(refused)).toMatch(/PostgreSQL 17.*roadtoll migrate/);
    expect(await dataDirState(dir)).toBe("older");

    const written = await open("write");
    try {
      expect(written.migrated).toEqual([
        "0006-forgotten-sources",
        "0007-reader-role",
        "0008-bigint-counts",
        "0009-reject-kinds",
      ]);
      const run = await written.db.selectFrom("pipeline_runs").selectAll().executeTakeFirstOrThrow();
      expect([run.run_id, run.rows_read, run.reject_kinds]).toEqual(["run-old", 10, null]);
      const deaths = await written.db.selectFrom("deaths_by_vehicle").selectAll().execute();
      expect(deaths.map((row) => [row.road_name, row.vehicle, row.number_deaths])).toEqual([
        ["BR-101/SP", "moto", 2],
      ]);
    } finally {
      await written.close();
    }
    const read = await open("read");
    expect(await read.db.selectFrom("deaths_by_vehicle").select("number_deaths").execute()).toEqual([
      { number_deaths: 2 },
    ]);
    await read.close();
  }, 120_000);

  it("finishes an upgrade stopped between its renames", async () => {
    const root = await temporary();
    const dir = join(root, "pglite");
    const before = await writeOlder(dir, undefined, fillLatest);
    await (await createEmbeddedDatabase(dir)).db.destroy();

    // Stopped after the copy was marked finished, before the old directory moved aside.
    await rename(dir, `${dir}.upgraded`);
    await rename(`${dir}.pg17`, dir);
    expect(await dataDirState(dir)).toBe("upgraded");
    const resumed = await createEmbeddedDatabase(dir);
    expect(await contents(resumed.pglite)).toEqual(before);
    await resumed.db.destroy();
    expect((await readFile(join(`${dir}.pg17`, "PG_VERSION"), "utf8")).trim()).toBe(OLDER_MAJOR);

    // Stopped after the old directory moved aside, before the copy took its place.
    await rename(dir, `${dir}.upgraded`);
    expect(existsSync(dir)).toBe(false);
    const finished = await createEmbeddedDatabase(dir);
    expect(await contents(finished.pglite)).toEqual(before);
    await finished.db.destroy();
  }, 180_000);

  it("leaves the directory as it was when the copy fails, and names it", async () => {
    const root = await temporary();
    const dir = join(root, "pglite");
    await writeOlder(dir, undefined, async (pglite) => {
      await pglite.exec("create table notes (text text); insert into notes values ('mine')");
    });
    const failed = await createEmbeddedDatabase(dir).catch((error: unknown) => error);
    expect(isRoadtollError(failed, "MigrationError")).toBe(true);
    expect(String(failed)).toContain(`${dir}: upgrading to PostgreSQL 18 failed`);
    expect(String(failed)).toContain("table notes has no place in roadtoll's schema");
    expect(await dataDirState(dir)).toBe("older");
    expect(existsSync(`${dir}.upgrading`) || existsSync(`${dir}.pg17`)).toBe(false);
  }, 120_000);

  it("refuses a directory of another major version by name", async () => {
    const dir = join(await temporary(), "pglite");
    await mkdir(dir);
    await writeFile(join(dir, "PG_VERSION"), "16\n");
    const refused = await dataDirState(dir).catch((error: unknown) => error);
    expect(isRoadtollError(refused, "MigrationError")).toBe(true);
    expect(String(refused)).toContain("written by PostgreSQL 16");
  });
});
