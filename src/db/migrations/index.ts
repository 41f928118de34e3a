import type { Migration, MigrationProvider } from "kysely/migration";
import * as createDeathsByVehicle from "./0001-create-deaths-by-vehicle.js";
import * as createWriterRole from "./0002-create-writer-role.js";
import * as currentSnapshotHistoryAndRuns from "./0003-current-snapshot-history-and-runs.js";
import * as sourceValidators from "./0004-source-validators.js";
import * as accidentsByRoadYear from "./0005-accidents-by-road-year.js";
import * as forgottenSources from "./0006-forgotten-sources.js";
import * as readerRole from "./0007-reader-role.js";
import * as bigintCounts from "./0008-bigint-counts.js";
import * as rejectKinds from "./0009-reject-kinds.js";

/**
 * Migrations are imported statically rather than read from a folder, so a bundled Lambda image carries them
 * and the order is fixed by this list, not by the file system.
 */
export const migrations: Record<string, Migration> = {
  "0001-create-deaths-by-vehicle": createDeathsByVehicle,
  "0002-create-writer-role": createWriterRole,
  "0003-current-snapshot-history-and-runs": currentSnapshotHistoryAndRuns,
  "0004-source-validators": sourceValidators,
  "0005-accidents-by-road-year": accidentsByRoadYear,
  "0006-forgotten-sources": forgottenSources,
  "0007-reader-role": readerRole,
  "0008-bigint-counts": bigintCounts,
  "0009-reject-kinds": rejectKinds,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
