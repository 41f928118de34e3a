import type { Kysely } from "kysely";
import { type MigrationResult, Migrator } from "kysely/migration";
import { RoadtollError } from "../errors.js";
import { migrationProvider } from "./migrations/index.js";

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
