import { type Kysely, sql } from "kysely";
import type { ObjectStore } from "../adapters/object-store.js";
import type { Database } from "../db/schema.js";
import { VEHICLES } from "../domain/columns.js";
import { type VehicleDeaths, zeroDeaths } from "../domain/deaths-aggregator.js";
import { mapLimited } from "../map-limited.js";
import { readRejectReasons } from "./reject-reasons.js";
import type { Counted, ReportData, RoadFigures, SourceFigures, SourceRun } from "./render-report.js";

export interface ReportSources {
  /** The bucket with the rejects objects; without it the report has reject counts and says why not reasons. */
  store?: ObjectStore | undefined;
  /** Why there is no store, shown in place of the reasons. */
  noStore?: string;
  now?: Date;
  /** Sources left out of every figure and table (the bundled samples, unless asked for), said in the report. */
  leftOut?: readonly string[];
  /** What the report says about the sources left out, e.g. how to include them. */
  leftOutNote?: string;
}

/** Rejects objects read at once: enough to overlap the requests, few enough for a Lambda's sockets and memory. */
const READ_CONCURRENCY = 4;

/**
 * What the report lists at most: the sources (and their newest runs) with the most deaths, and the worst roads.
 * Whatever the database holds, the report reads aggregates of this many rows, so its memory and size are bounded;
 * it says how many it did not list.
 */
export const REPORT_LIMITS = { sources: 100, roads: 10 } as const;

/**
 * Everything the report shows, read as aggregates computed by the database: the overall figures, each source's
 * and the worst roads' (deaths counted once per accident from accidents_by_road_year, the per-vehicle metric
 * from deaths_by_vehicle), and the newest run of each source with, when the bucket is given, the reasons from
 * its rejects object. A rejects object that cannot be read costs its reasons only, never the report.
 */
export async function loadReportData(db: Kysely<Database>, sources: ReportSources = {}): Promise<ReportData> {
  const leftOut = [...(sources.leftOut ?? [])];
  const [overall, sourceRows, sourceCount, worstRoads, roadCount, uncounted, runs, runCount] =
    await Promise.all([
      overallFigures(db, leftOut),
      sourceFigures(db, leftOut),
      countOf(db, sql`select count(distinct source) as n from deaths_by_vehicle where ${notIn(leftOut)}`),
      worstRoadFigures(db, leftOut),
      countOf(
        db,
        sql`select count(distinct road_name) as n from accidents_by_road_year where ${notIn(leftOut)}`,
      ),
      sql<{ source: string }>`
      select distinct source from deaths_by_vehicle d where ${notIn(leftOut)} and not exists
        (select 1 from accidents_by_road_year a where a.source = d.source and a.created_at = d.created_at)
      order by source limit ${REPORT_LIMITS.sources}`
        .execute(db)
        .then((result) => result.rows.map((row) => row.source)),
      db
        .selectFrom("pipeline_runs")
        .selectAll()
        .distinctOn("source")
        .where(notIn(leftOut))
        .orderBy("source")
        .orderBy("ingested_at", "desc")
        .orderBy("finished_at", "desc")
        .limit(REPORT_LIMITS.sources)
        .execute(),
      countOf(db, sql`select count(distinct source) as n from pipeline_runs where ${notIn(leftOut)}`),
    ]);
  const { store } = sources;
  const noStore = sources.noStore ?? "the report was made without the bucket";
  const withReasons = await mapLimited(runs, READ_CONCURRENCY, async (run): Promise<SourceRun> => {
    const reasons: SourceRun["reasons"] =
      run.rows_rejected > 0
        ? await readRejectReasons(
            { rejectsKey: run.rejects_key, rejectKinds: run.reject_kinds },
            store,
            noStore,
          )
        : { kinds: [], counted: 0 };
    return {
      source: run.source,
      runId: run.run_id,
      status: run.status,
      ingestedAt: run.ingested_at,
      finishedAt: run.finished_at,
      origin: run.origin,
      sha256: run.sha256,
      bytes: run.bytes,
      rowsRead: run.rows_read,
      rowsAccepted: run.rows_accepted,
      rowsRejected: run.rows_rejected,
      totalDeaths: run.total_deaths,
      rejectsKey: run.rejects_key,
      error: run.error,
      reasons,
    };
  });
  return {
    generatedAt: sources.now ?? new Date(),
    bucket: store?.bucket,
    overall,
    sources: sourceRows,
    unlistedSources: Math.max(0, sourceCount - sourceRows.length),
    worstRoads,
    unlistedRoads: Math.max(0, roadCount - worstRoads.length),
    uncounted,
    runs: withReasons,
    unlistedRuns: Math.max(0, runCount - withReasons.length),
    leftOut,
    ...(sources.leftOutNote ? { leftOutNote: sources.leftOutNote } : {}),
  };
}

/** `source not in (…)`, or true when nothing is left out. */
function notIn(leftOut: readonly string[]) {
  return leftOut.length === 0 ? sql<boolean>`true` : sql<boolean>`source not in (${sql.join(leftOut)})`;
}

async function countOf(db: Kysely<Database>, query: ReturnType<typeof sql<{ n: unknown }>>): Promise<number> {
  const result = await query.execute(db);
  return Number(result.rows[0]?.n ?? 0);
}

/** Sums as float8: exact to 2^53, and a JavaScript number from pg and PGlite alike (bigint arrives as text). */
const vehicleSums = sql.join(
  VEHICLES.map(
    (vehicle) =>
      sql`coalesce(sum(number_deaths) filter (where vehicle = ${vehicle}), 0)::float8 as ${sql.ref(vehicle)}`,
  ),
);

const countedColumns = sql`
  sum(accidents)::float8 as accidents, sum(deaths)::float8 as deaths, min(year) as first_year,
  max(year) as last_year, coalesce(sum(accidents) filter (where year is null), 0)::float8 as undated`;

type VehicleRow = Record<(typeof VEHICLES)[number], number>;
interface CountedRow {
  accidents: number | null;
  deaths: number | null;
  first_year: number | null;
  last_year: number | null;
  undated: number;
}

function involving(row: VehicleRow): VehicleDeaths {
  return Object.fromEntries(VEHICLES.map((vehicle) => [vehicle, Number(row[vehicle])])) as VehicleDeaths;
}

function counted(row: CountedRow | undefined): Counted | null {
  if (!row || row.accidents === null || row.deaths === null) return null;
  return {
    accidents: Number(row.accidents),
    deaths: Number(row.deaths),
    firstYear: row.first_year,
    lastYear: row.last_year,
    undated: Number(row.undated),
  };
}

async function overallFigures(
  db: Kysely<Database>,
  leftOut: readonly string[],
): Promise<ReportData["overall"]> {
  const [vehicles, once] = await Promise.all([
    sql<VehicleRow & { sources: number; roads: number }>`
      select count(distinct source)::float8 as sources,
        (select count(*) from (select distinct source, road_name from deaths_by_vehicle where ${notIn(leftOut)}) r)::float8
          as roads,
        ${vehicleSums}
      from deaths_by_vehicle where ${notIn(leftOut)}`.execute(db),
    sql<CountedRow>`select ${countedColumns} from accidents_by_road_year where ${notIn(leftOut)}`.execute(db),
  ]);
  const row = vehicles.rows[0];
  if (!row || Number(row.sources) === 0) return null;
  return {
    sources: Number(row.sources),
    roads: Number(row.roads),
    involving: involving(row),
    counted: counted(once.rows[0]),
  };
}

/** The sources with the most deaths (counted once) first; those without accident counts last, by name. */
async function sourceFigures(db: Kysely<Database>, leftOut: readonly string[]): Promise<SourceFigures[]> {
  const result = await sql<VehicleRow & CountedRow & { source: string; roads: number; created_at: Date }>`
    with v as (
      select source, max(created_at) as created_at, count(distinct road_name)::float8 as roads, ${vehicleSums}
      from deaths_by_vehicle where ${notIn(leftOut)} group by source
    ), a as (
      select source, ${countedColumns} from accidents_by_road_year where ${notIn(leftOut)} group by source
    )
    select v.*, a.accidents, a.deaths, a.first_year, a.last_year, coalesce(a.undated, 0) as undated
    from v left join a using (source)
    order by a.deaths desc nulls last, v.source collate "C"
    limit ${REPORT_LIMITS.sources}`.execute(db);
  return result.rows.map((row) => ({
    name: row.source,
    roads: Number(row.roads),
    createdAt: new Date(row.created_at),
    involving: involving(row),
    counted: counted(row),
  }));
}

/**
 * The roads with the most deaths counted once, over every source that runs them (concessionaires run different
 * stretches, so their accidents are different accidents), with the metric per vehicle beside them.
 */
async function worstRoadFigures(db: Kysely<Database>, leftOut: readonly string[]): Promise<RoadFigures[]> {
  const ranked = await sql<CountedRow & { road_name: string; sources: string[] }>`
    select road_name, ${countedColumns}, jsonb_agg(distinct source) as sources
    from accidents_by_road_year where ${notIn(leftOut)}
    group by road_name
    order by sum(deaths) desc, road_name collate "C"
    limit ${REPORT_LIMITS.roads}`.execute(db);
  if (ranked.rows.length === 0) return [];
  const names = ranked.rows.map((row) => row.road_name);
  const metric = await sql<VehicleRow & { road_name: string }>`
    select road_name, ${vehicleSums} from deaths_by_vehicle
    where ${notIn(leftOut)} and road_name in (${sql.join(names)})
    group by road_name`.execute(db);
  const byRoad = new Map(metric.rows.map((row) => [row.road_name, involving(row)]));
  return ranked.rows.map((row) => ({
    name: row.road_name,
    sources: [...(typeof row.sources === "string" ? JSON.parse(row.sources) : row.sources)].sort(),
    involving: byRoad.get(row.road_name) ?? zeroDeaths(),
    counted: counted(row) ?? { accidents: 0, deaths: 0, firstYear: null, lastYear: null, undated: 0 },
  }));
}
