import { type Kysely, sql } from "kysely";
import { type MigrationResult, Migrator } from "kysely/migration";
import { RoadtollError } from "../errors.js";
import { migrationProvider, migrations } from "./migrations/index.js";

export interface MigrationReport {
  applied: string[];
}

function createMigrator(db: Kysely<unknown>): Migrator {
  return new Migrator({ db, provider: migrationProvider });
}

/** Brings the schema up to date, reporting every step; throws `MigrationError` naming the step that failed. */
export async function migrateToLatest<DB>(
  db: Kysely<DB>,
  log: (line: string) => void = () => {},
): Promise<MigrationReport> {
  const { error, results } = await createMigrator(db as unknown as Kysely<unknown>).migrateToLatest();
  return report(results, error, log, "up");
}

/**
 * Brings the schema up to `name` and no further: a data directory being upgraded (upgrade-data-dir.ts) gets the
 * schema its rows were written under before they are copied in.
 */
export async function migrateTo<DB>(
  db: Kysely<DB>,
  name: string,
  log: (line: string) => void = () => {},
): Promise<MigrationReport> {
  const { error, results } = await createMigrator(db as unknown as Kysely<unknown>).migrateTo(name);
  return report(results, error, log, "up");
}

/**
 * The migrations a database lacks, without creating or changing anything (a read command's check): all of them
 * when it has no roadtoll schema at all.
 */
export async function missingMigrations<DB>(db: Kysely<DB>): Promise<string[]> {
  const known = Object.keys(migrations).sort();
  const table = await sql<{
    found: string | null;
  }>`select to_regclass('kysely_migration')::text as found`.execute(db);
  if (!table.rows[0]?.found) return known;
  const done = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
  const applied = new Set(done.rows.map((row) => row.name));
  return known.filter((name) => !applied.has(name));
}

/** Reverts the most recent migration; for development and tests of `down`. */
export async function migrateDown<DB>(
  db: Kysely<DB>,
  log: (line: string) => void = () => {},
): Promise<MigrationReport> {
  const { error, results } = await createMigrator(db as unknown as Kysely<unknown>).migrateDown();
  return report(results, error, log, "down");
}

function report(
  results: MigrationResult[] | undefined,
  error: unknown,
  log: (line: string) => void,
  direction: "up" | "down",
): MigrationReport {
  const applied: string[] = [];
  for (const result of results ?? []) {
    log(`migration ${result.migrationName} (${direction}): ${result.status}`);
    if (result.status === "Success") applied.push(result.migrationName);
  }
  if (error) {
    const failed = results?.find((result) => result.status === "Error")?.migrationName;
    throw new RoadtollError(
      "MigrationError",
      `migration ${failed ?? "(before any step)"} failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  if (applied.length === 0) log("migrations: already up to date");
  return { applied };
}
