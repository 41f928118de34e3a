import { existsSync } from "node:fs";
import { readFile, rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { Kysely, PGliteDialect } from "kysely";
import { RoadtollError } from "../errors.js";
import { migrateTo } from "./migrate.js";

/** The PostgreSQL major version of the PGlite roadtoll runs: what a data directory it writes has in PG_VERSION. */
export const PGLITE_MAJOR = "18";

/**
 * PGlite 0.4 (PostgreSQL 17) wrote every roadtoll data directory before PGlite 0.5. Postgres cannot open another
 * major version's files, so 0.4 stays installed (as the npm alias @electric-sql/pglite-17, loaded only here) to
 * read such a directory once, into a new one.
 */
export const OLDER_MAJOR = "17";

/**
 * - `none`: no database yet;
 * - `current`: written by this PGlite;
 * - `older`: written by PostgreSQL 17, to be upgraded before use;
 * - `upgraded`: an upgrade finished copying but was stopped before swapping the directories in.
 */
export type DataDirState = "none" | "current" | "older" | "upgraded";

export async function dataDirState(dir: string): Promise<DataDirState> {
  if (existsSync(upgradedPath(dir))) return "upgraded";
  const major = await readMajor(dir);
  if (major === undefined) return "none";
  if (major === PGLITE_MAJOR) return "current";
  if (major === OLDER_MAJOR) return "older";
  throw new RoadtollError(
    "MigrationError",
    `written by PostgreSQL ${major}: this roadtoll reads PostgreSQL ${PGLITE_MAJOR} and upgrades ${OLDER_MAJOR}; ` +
      "open it with the roadtoll that wrote it, or move it away to start an empty database",
    { where: { resource: dir } },
  );
}

export interface UpgradeReport {
  tables: number;
  rows: number;
  /** Where the PostgreSQL 17 directory now is. */
  kept: string | undefined;
}

/**
 * Copies a PostgreSQL 17 data directory into a new PostgreSQL 18 one and swaps it in, keeping the old one as
 * `<dir>.pg17`. The copy is built beside it as `<dir>.upgrading` (discarded if a run is stopped midway), gets the
 * schema the rows were written under (the same migrations, up to the last one the old database applied), then
 * every table of the public schema, a page at a time; each table's row count and content hash must match before
 * anything is renamed. `<dir>.upgraded` marks a finished copy, so a stop between the renames is finished by the
 * next open (finishUpgrade). The old directory's rows are read, never changed. The caller holds the data
 * directory's lock and migrates the result to the latest schema as for any database.
 */
export async function upgradeDataDir(
  dir: string,
  openCurrent: (dir: string) => Promise<PGlite>,
  log: (line: string) => void = () => {},
): Promise<UpgradeReport> {
  const building = `${dir}.upgrading`;
  await rm(building, { recursive: true, force: true });
  log(
    `database: ${dir} was written by PostgreSQL ${OLDER_MAJOR} (PGlite 0.4); copying it into PostgreSQL ` +
      `${PGLITE_MAJOR}, once; the old directory is kept beside it`,
  );
  const { PGlite: OlderPGlite } = await import("@electric-sql/pglite-17");
  // The same small buffer pool as embedded-database.ts: the two instances are open at once.
  const older = new OlderPGlite(dir, {
    startParams: [...OlderPGlite.defaultStartParams, "-c", "shared_buffers=16MB"],
  });
  let current: PGlite | undefined;
  let tables = 0;
  let rows = 0;
  try {
    await older.waitReady;
    current = await openCurrent(building);
    await current.waitReady;
    const applied = await appliedMigrations(older);
    const last = applied.at(-1);
    if (last !== undefined)
      await migrateTo(new Kysely<unknown>({ dialect: new PGliteDialect({ pglite: current }) }), last);
    const available = new Set(await publicTables(current));
    for (const table of await publicTables(older)) {
      if (!available.has(table))
        throw new RoadtollError("MigrationError", `table ${table} has no place in roadtoll's schema`);
      rows += await copyTable(older, current, table);
      tables += 1;
    }
  } catch (error) {
    await current?.close().catch(() => {});
    current = undefined;
    await rm(building, { recursive: true, force: true });
    const reason = error instanceof Error ? error.message : String(error);
    throw new RoadtollError(
      "MigrationError",
      `upgrading to PostgreSQL ${PGLITE_MAJOR} failed, and the directory was left as it was: ${reason}`,
      { cause: error, where: { resource: dir } },
    );
  } finally {
    await older.close().catch(() => {});
    await current?.close();
  }
  await rename(building, upgradedPath(dir));
  const kept = await finishUpgrade(dir);
  log(
    `database: upgraded ${tables} tables, ${rows} rows; the PostgreSQL ${OLDER_MAJOR} directory is kept as ` +
      `${kept ?? `${basename(dir)}.pg${OLDER_MAJOR}`} (delete it once no older roadtoll needs it)`,
  );
  return { tables, rows, kept };
}

/**
 * Swaps a finished copy in: the PostgreSQL 17 directory moves to `<dir>.pg17` (or `.pg17.N` when that is taken),
 * then `<dir>.upgraded` to `<dir>`. Each step is one rename, so a stop anywhere leaves a state this finishes.
 */
export async function finishUpgrade(dir: string): Promise<string | undefined> {
  const upgraded = upgradedPath(dir);
  if (!existsSync(upgraded)) return undefined;
  let kept: string | undefined;
  if (existsSync(dir)) {
    const major = await readMajor(dir);
    if (major !== OLDER_MAJOR)
      throw new RoadtollError(
        "MigrationError",
        `${upgraded} is an upgraded copy of this directory, which is not PostgreSQL ${OLDER_MAJOR} ` +
          `(${major === undefined ? "it has no PG_VERSION" : `it is ${major}`}): move one of the two away`,
        { where: { resource: dir } },
      );
    kept = `${dir}.pg${OLDER_MAJOR}`;
    for (let n = 1; existsSync(kept); n += 1) kept = `${dir}.pg${OLDER_MAJOR}.${n}`;
    await rename(dir, kept);
  }
  await rename(upgraded, dir);
  return kept;
}

const upgradedPath = (dir: string) => `${dir}.upgraded`;

async function readMajor(dir: string): Promise<string | undefined> {
  const text = await readFile(join(dir, "PG_VERSION"), "utf8").catch(() => undefined);
  return text?.trim();
}

/** What both PGlite versions' `query` share. */
interface Queryable {
  query<T>(text: string, params?: unknown[]): Promise<{ rows: T[] }>;
}

async function appliedMigrations(pglite: Queryable): Promise<string[]> {
  const { rows } = await pglite.query<{ found: string | null }>(
    "select to_regclass('public.kysely_migration')::text as found",
  );
  if (!rows[0]?.found) return [];
  const applied = await pglite.query<{ name: string }>("select name from kysely_migration order by name");
  return applied.rows.map((row) => row.name);
}

async function publicTables(pglite: Queryable): Promise<string[]> {
  const { rows } = await pglite.query<{ name: string }>(
    "select table_name as name from information_schema.tables " +
      "where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name",
  );
  return rows.map((row) => row.name);
}

/** Rows per statement: each page travels as one JSON text, a few hundred kB at most. */
const PAGE_ROWS = 1000;

/**
 * Replaces the table's rows in `to` with those of `from`, as JSON text (what both versions print and read alike:
 * bigints whole, timestamps to the microsecond, jsonb as it is), paged by physical row position. Returns the rows.
 */
async function copyTable(from: Queryable, to: Queryable, table: string): Promise<number> {
  const name = `"${table.replaceAll('"', '""')}"`;
  // The migrations fill some tables themselves (kysely_migration): the old rows, with their dates, replace them.
  await to.query(`delete from ${name}`);
  let after = "(0,0)";
  let copied = 0;
  for (;;) {
    const { rows } = await from.query<{ tid: string; row: string }>(
      `select ctid::text as tid, to_jsonb(copied)::text as row from ${name} copied where ctid > $1::tid order by ctid limit ${PAGE_ROWS}`,
      [after],
    );
    const last = rows.at(-1);
    if (last === undefined) break;
    await to.query(`insert into ${name} select * from jsonb_populate_recordset(null::${name}, $1::jsonb)`, [
      `[${rows.map((row) => row.row).join(",")}]`,
    ]);
    copied += rows.length;
    after = last.tid;
  }
  const [source, copy] = await Promise.all([fingerprint(from, name), fingerprint(to, name)]);
  if (source !== copy)
    throw new RoadtollError(
      "MigrationError",
      `table ${table}: the copy (${copy}) differs from the original (${source})`,
    );
  return copied;
}

/** Row count and an order-free hash of every row's JSON text. */
async function fingerprint(pglite: Queryable, name: string): Promise<string> {
  const { rows } = await pglite.query<{ rows: string; hash: string }>(
    `select count(*)::text as rows, coalesce(sum(hashtext(to_jsonb(copied)::text)), 0)::text as hash from ${name} copied`,
  );
  return `${rows[0]?.rows} rows, hash ${rows[0]?.hash}`;
}
