import type { ColumnType, Insertable, Selectable } from "kysely";
import type { Vehicle } from "../domain/columns.js";
import type { RejectKindCount } from "../domain/rejects.js";

export interface DeathsByVehicleTable {
  /** When the data was captured: the ingest step's `ingestedAt`, so a retried deaths step writes the same rows. */
  created_at: Date;
  /** The link's name (link.yml key, or derived from the URL): one road can be run by several concessionaires. */
  source: string;
  road_name: string;
  vehicle: Vehicle;
  number_deaths: number;
}

export interface DeathsHistoryTable extends DeathsByVehicleTable {
  /** When a newer snapshot of the source replaced this one. */
  archived_at: ColumnType<Date, Date | undefined, never>;
}

/**
 * A road's accepted rows (accidents) and their deaths in one year of a snapshot (migration 0005): what rates per
 * accident and trends per year are computed from. Written with deaths_by_vehicle, in the same transaction, so the
 * two always hold the same snapshot of a source.
 */
export interface AccidentsByRoadYearTable {
  created_at: Date;
  source: string;
  road_name: string;
  /** From the `data` column; null when the date was missing or unreadable (the row still counts). */
  year: number | null;
  accidents: number;
  /** Deaths, each accident once. */
  deaths: number;
  /** The metric for that year: deaths in accidents involving each vehicle type. */
  deaths_automovel: number;
  deaths_bicicleta: number;
  deaths_caminhao: number;
  deaths_moto: number;
  deaths_onibus: number;
}

export interface AccidentsByRoadYearHistoryTable extends AccidentsByRoadYearTable {
  archived_at: ColumnType<Date, Date | undefined, never>;
}

/** One row per run (the ingest step's runId): where the data came from, what was read, what became of it. */
export interface PipelineRunsTable {
  run_id: string;
  source: string;
  /** `forgotten`: `roadtoll forget` took the source's figures out (migration 0006); it has no files. */
  status: "succeeded" | "rejected" | "forgotten";
  /** Whether the run's snapshot is the source's current one (an older run that finished late is not). */
  current: boolean;
  ingested_at: Date;
  finished_at: Date;
  /** The link, redacted, or the S3 object the file came from. */
  origin: string | null;
  sha256: string | null;
  bytes: number | null;
  /** The source's ETag and Last-Modified as it sent them (migration 0004): the next run's conditional request. */
  source_etag: string | null;
  source_last_modified: string | null;
  raw_key: string | null;
  /** Null for a `forgotten` run only. */
  clean_key: string | null;
  rejects_key: string | null;
  rows_read: number;
  rows_accepted: number;
  rows_rejected: number;
  /** The rejects by column and kind (migration 0009), most common first; null before it, and when forgotten. */
  reject_kinds: ColumnType<RejectKindCount[] | null, string | null | undefined, string | null>;
  roads: number;
  total_deaths: number;
  execution: string | null;
  error: string | null;
}

export interface Database {
  /** The current figures: one snapshot per source. */
  deaths_by_vehicle: DeathsByVehicleTable;
  /** Every snapshot a newer one replaced. */
  deaths_by_vehicle_history: DeathsHistoryTable;
  /** The current accidents and deaths per road and year: the same snapshot per source as deaths_by_vehicle. */
  accidents_by_road_year: AccidentsByRoadYearTable;
  accidents_by_road_year_history: AccidentsByRoadYearHistoryTable;
  pipeline_runs: PipelineRunsTable;
}

export type DeathsRow = Selectable<DeathsByVehicleTable>;
export type NewDeathsRow = Insertable<DeathsByVehicleTable>;
export type NewAccidentsRow = Insertable<AccidentsByRoadYearTable>;
