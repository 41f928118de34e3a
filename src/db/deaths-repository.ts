import { type Kysely, sql } from "kysely";
import { VEHICLES } from "../domain/columns.js";
import type { RoadDeaths, RoadYearFigures } from "../domain/deaths-aggregator.js";
import type { RejectKindCount } from "../domain/rejects.js";
import { DEFAULT_RETRY, databaseFailure, type RetryPolicy, retryTransient } from "./retry.js";
import type { Database, NewAccidentsRow, NewDeathsRow } from "./schema.js";

/**
 * A source's figures to publish. Both lists are read as they are written, a batch at a time, and read again if
 * the transaction is run again: an array, or an iterable whose iterator starts afresh each time (the deaths
 * step's, which builds each road's figures as it is read).
 */
export interface DeathsSnapshot {
  source: string;
  createdAt: Date;
  roads: Iterable<RoadDeaths>;
  /**
   * Accidents and deaths per road and year, kept in accidents_by_road_year. The deaths step always gives them;
   * without them the snapshot has no rows there (and replaces the source's older ones all the same).
   */
  roadYears?: Iterable<RoadYearFigures> | undefined;
}

/** A run's lineage, as pipeline_runs keeps it. */
export interface RunRecord {
  runId: string;
  origin?: string | undefined;
  sha256?: string | undefined;
  bytes?: number | undefined;
  /** The source's validators (HTTP ETag / Last-Modified, or the landing object's ETag). */
  sourceEtag?: string | undefined;
  sourceLastModified?: string | undefined;
  rawKey?: string | undefined;
  cleanKey: string;
  rejectsKey: string;
  rowsRead: number;
  rowsAccepted: number;
  rowsRejected: number;
  rejectKinds: readonly RejectKindCount[];
  execution?: string | undefined;
  finishedAt?: Date;
}

export interface Publication {
  rowsWritten: number;
  /** Whether the snapshot is now the source's current one; false for an older run that finished late. */
  current: boolean;
  /** The snapshot this one replaced as current (moved to history), if there was one. */
  replaced: Date | undefined;
  /**
   * Another source whose current snapshot came from the same bytes (the same SHA-256): nothing was written, since
   * the figures would be counted twice in every sum over sources.
   */
  duplicateOf?: string;
}

export interface PublishOptions {
  /** Write the snapshot even when another source's current one has the same SHA-256. */
  allowDuplicate?: boolean;
  retry?: RetryPolicy;
}

/** Rows per INSERT: far below Postgres' 65,535 bind-parameter limit (11 per row at most) for any number of roads. */
const BATCH = 1000;

/** Each table a snapshot is written to, with the history its replaced rows move to, in the same transaction. */
export const SNAPSHOT_TABLES = {
  deaths_by_vehicle: {
    history: "deaths_by_vehicle_history",
    columns: ["created_at", "source", "road_name", "vehicle", "number_deaths"],
  },
  accidents_by_road_year: {
    history: "accidents_by_road_year_history",
    columns: [
      "created_at",
      "source",
      "road_name",
      "year",
      "accidents",
      "deaths",
      ...VEHICLES.map((vehicle) => `deaths_${vehicle}` as const),
    ],
  },
} as const;
export type SnapshotTable = keyof typeof SNAPSHOT_TABLES;

/**
 * Makes a run's snapshot the source's current figures, in one transaction: the snapshot it replaces moves to
 * deaths_by_vehicle_history, and the run's lineage is written to pipeline_runs. So deaths_by_vehicle always holds
 * exactly one snapshot per source, and a plain sum over it is right. accidents_by_road_year holds the same
 * snapshot, by the same rules.
 *
 * - Retried: a snapshot is keyed by source and ingest time; the same run replaces its own rows, and its
 *   pipeline_runs row, so running a step twice leaves what running it once does.
 * - Late: a run older than the current snapshot (it was ingested earlier but finished later) goes to history,
 *   and the current figures stay.
 * - Cut: a transaction cut by a lost connection is rolled back by the server and run again, whole, a bounded
 *   number of times (db/retry.ts).
 * Runs of one source are serialised by an advisory lock, so two finishing together cannot both become current.
 */
export async function publishSnapshot(
  db: Kysely<Database>,
  snapshot: DeathsSnapshot,
  run?: RunRecord,
  options: PublishOptions = {},
): Promise<Publication> {
  const retry = options.retry ?? DEFAULT_RETRY;
  const { source, createdAt } = snapshot;
  try {
    return await retryTransient(
      () =>
        db.transaction().execute(async (trx) => {
          await sql`select pg_advisory_xact_lock(hashtext(${`roadtoll:${source}`}))`.execute(trx);
          if (run?.sha256 && !options.allowDuplicate) {
            // Two sources finishing the same bytes at once: the lock on the digest lets one see the other.
            await sql`select pg_advisory_xact_lock(hashtext(${`roadtoll:sha256:${run.sha256}`}))`.execute(
              trx,
            );
            const twin = await trx
              .selectFrom("pipeline_runs")
              .select("source")
              .where("current", "=", true)
              .where("sha256", "=", run.sha256)
              .where("source", "<>", source)
              .orderBy("source")
              .limit(1)
              .executeTakeFirst();
            if (twin)
              return { rowsWritten: 0, current: false, replaced: undefined, duplicateOf: twin.source };
          }
          const newer = await trx
            .selectFrom("deaths_by_vehicle")
            .select("created_at")
            .where("source", "=", source)
            .where("created_at", ">", createdAt)
            .limit(1)
            .executeTakeFirst();
          // A file read before the source was forgotten (forget-source.ts) must not bring its figures back.
          const forgotten = await trx
            .selectFrom("pipeline_runs")
            .select("run_id")
            .where("source", "=", source)
            .where("status", "=", "forgotten")
            .where("ingested_at", ">", createdAt)
            .limit(1)
            .executeTakeFirst();
          const current = newer === undefined && forgotten === undefined;
          let replaced: Date | undefined;
          if (current) {
            const older = await trx
              .selectFrom("deaths_by_vehicle")
              .select((eb) => eb.fn.max("created_at").as("created_at"))
              .where("source", "=", source)
              .where("created_at", "<", createdAt)
              .executeTakeFirst();
            replaced = older?.created_at ?? undefined;
            if (replaced) {
              for (const table of Object.keys(SNAPSHOT_TABLES) as SnapshotTable[]) {
                await archiveOlder(trx, table, source, createdAt);
              }
            }
          }
          const figures = { roads: 0, deaths: 0 };
          await writeRows(
            trx,
            "deaths_by_vehicle",
            current,
            source,
            createdAt,
            deathsRows(snapshot, figures),
          );
          await writeRows(trx, "accidents_by_road_year", current, source, createdAt, accidentRows(snapshot));
          if (run && current) {
            // One current run per source, as there is one current snapshot: the column stays true to the table.
            await trx
              .updateTable("pipeline_runs")
              .set({ current: false })
              .where("source", "=", source)
              .where("run_id", "<>", run.runId)
              .where("current", "=", true)
              .execute();
          }
          if (run) {
            await writeRun(trx, {
              ...runRow(run, source, createdAt),
              status: "succeeded",
              current,
              roads: figures.roads,
              total_deaths: figures.deaths,
              error: null,
            });
          }
          return { rowsWritten: figures.roads * VEHICLES.length, current, replaced };
        }),
      retry,
    );
  } catch (error) {
    throw databaseFailure(error, `cannot write deaths_by_vehicle for ${source}`);
  }
}

/** Moves a source's snapshots older than `createdAt` from a current table to its history. */
export async function archiveOlder(
  trx: Kysely<Database>,
  table: SnapshotTable,
  source: string,
  createdAt: Date,
): Promise<void> {
  const { history, columns } = SNAPSHOT_TABLES[table];
  const list = sql.join(columns.map((column) => sql.ref(column)));
  await sql`
    insert into ${sql.table(history)} (${list})
    select ${list} from ${sql.table(table)} where source = ${source} and created_at < ${createdAt}
  `.execute(trx);
  await sql`delete from ${sql.table(table)} where source = ${source} and created_at < ${createdAt}`.execute(
    trx,
  );
}

/** The snapshot's deaths_by_vehicle rows, five a road, counting its roads and deaths into `figures` as it goes. */
function* deathsRows(
  { source, createdAt, roads }: DeathsSnapshot,
  figures: { roads: number; deaths: number },
): Generator<NewDeathsRow> {
  for (const { road, byVehicle, total } of roads) {
    figures.roads++;
    figures.deaths += total;
    for (const vehicle of VEHICLES) {
      yield { created_at: createdAt, source, road_name: road, vehicle, number_deaths: byVehicle[vehicle] };
    }
  }
}

function* accidentRows({ source, createdAt, roadYears }: DeathsSnapshot): Generator<NewAccidentsRow> {
  for (const { road, year, accidents, deaths, byVehicle } of roadYears ?? []) {
    yield {
      created_at: createdAt,
      source,
      road_name: road,
      year,
      accidents,
      deaths,
      deaths_automovel: byVehicle.automovel,
      deaths_bicicleta: byVehicle.bicicleta,
      deaths_caminhao: byVehicle.caminhao,
      deaths_moto: byVehicle.moto,
      deaths_onibus: byVehicle.onibus,
    };
  }
}

/**
 * Replaces the snapshot's own rows (a retry's included) in the current table, or in its history when late. The
 * rows are drawn from their generator a batch at a time: only one INSERT's rows are ever held, whatever the number
 * of roads.
 */
async function writeRows<T extends SnapshotTable>(
  trx: Kysely<Database>,
  table: T,
  current: boolean,
  source: string,
  createdAt: Date,
  rows: Iterable<T extends "deaths_by_vehicle" ? NewDeathsRow : NewAccidentsRow>,
): Promise<void> {
  // Kysely cannot type a table chosen at run time; the signature ties the rows to the table instead.
  const target = (current ? table : SNAPSHOT_TABLES[table].history) as "deaths_by_vehicle";
  await trx.deleteFrom(target).where("source", "=", source).where("created_at", "=", createdAt).execute();
  let batch: NewDeathsRow[] = [];
  for (const row of rows) {
    batch.push(row as NewDeathsRow);
    if (batch.length === BATCH) {
      await trx.insertInto(target).values(batch).execute();
      batch = [];
    }
  }
  if (batch.length > 0) await trx.insertInto(target).values(batch).execute();
}

/** Records a run the deaths step refused (too many rejects, no data): lineage and why, no figures. */
export async function recordRejectedRun(
  db: Kysely<Database>,
  source: string,
  ingestedAt: Date,
  run: RunRecord,
  error: string,
  retry: RetryPolicy = DEFAULT_RETRY,
): Promise<void> {
  try {
    await retryTransient(
      () =>
        writeRun(db, {
          ...runRow(run, source, ingestedAt),
          status: "rejected",
          current: false,
          roads: 0,
          total_deaths: 0,
          error,
        }),
      retry,
    );
  } catch (cause) {
    throw databaseFailure(cause, `cannot record run ${run.runId} of ${source}`);
  }
}

function runRow(run: RunRecord, source: string, ingestedAt: Date) {
  return {
    run_id: run.runId,
    source,
    ingested_at: ingestedAt,
    finished_at: run.finishedAt ?? new Date(),
    origin: run.origin ?? null,
    sha256: run.sha256 ?? null,
    bytes: run.bytes ?? null,
    source_etag: run.sourceEtag ?? null,
    source_last_modified: run.sourceLastModified ?? null,
    raw_key: run.rawKey ?? null,
    clean_key: run.cleanKey,
    rejects_key: run.rejectsKey,
    rows_read: run.rowsRead,
    rows_accepted: run.rowsAccepted,
    rows_rejected: run.rowsRejected,
    reject_kinds: JSON.stringify(run.rejectKinds),
    execution: run.execution ?? null,
  };
}

type RunRow = ReturnType<typeof runRow> & {
  status: "succeeded" | "rejected";
  current: boolean;
  roads: number;
  total_deaths: number;
  error: string | null;
};

async function writeRun(db: Kysely<Database>, row: RunRow): Promise<void> {
  const { run_id: _key, ...update } = row;
  await db
    .insertInto("pipeline_runs")
    .values(row)
    .onConflict((conflict) => conflict.column("run_id").doUpdateSet(update))
    .execute();
}
