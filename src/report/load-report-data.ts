import type { Kysely } from "kysely";
import type { ObjectStore } from "../adapters/object-store.js";
import type { Database } from "../db/schema.js";
import { mapLimited } from "../map-limited.js";
import { readRejectReasons } from "./reject-reasons.js";
import type { ReportData, SourceRun } from "./render-report.js";

export interface ReportSources {
  /** The bucket with the rejects objects; without it the report has reject counts and says why not reasons. */
  store?: ObjectStore | undefined;
  /** Why there is no store, shown in place of the reasons. */
  noStore?: string;
  now?: Date;
}

/** Rejects objects read at once: enough to overlap the requests, few enough for a Lambda's sockets and memory. */
const READ_CONCURRENCY = 4;

/**
 * Everything the report shows, read once: the current figures and the newest run of each source from Postgres,
 * and, when the bucket is given, the reasons from each of those runs' rejects objects. A rejects object that cannot
 * be read costs its reasons only, never the report.
 */
export async function loadReportData(db: Kysely<Database>, sources: ReportSources = {}): Promise<ReportData> {
  const [figures, runs] = await Promise.all([
    db
      .selectFrom("deaths_by_vehicle")
      .select(["source", "road_name", "vehicle", "number_deaths", "created_at"])
      .orderBy("source")
      .orderBy("road_name")
      .orderBy("vehicle")
      .execute(),
    db
      .selectFrom("pipeline_runs")
      .selectAll()
      .distinctOn("source")
      .orderBy("source")
      .orderBy("ingested_at", "desc")
      .orderBy("finished_at", "desc")
      .execute(),
  ]);
  const snapshots = new Map<string, Date>();
  for (const row of figures) snapshots.set(row.source, row.created_at);
  const { store } = sources;
  const noStore = sources.noStore ?? "the report was made without the bucket";
  const withReasons = await mapLimited(runs, READ_CONCURRENCY, async (run): Promise<SourceRun> => {
    let reasons: SourceRun["reasons"] = { kinds: [], counted: 0 };
    if (run.rows_rejected > 0) {
      // Any failure to read it, a 403 included, only marks this section unavailable (with the reason): the
      // lifecycle rule expires rejects objects, and a report must not fail for one. Elsewhere a 403 is a failure.
      reasons = store
        ? await readRejectReasons(store, run.rejects_key).catch((error: unknown) => ({
            unavailable: error instanceof Error ? error.message : String(error),
          }))
        : { unavailable: noStore };
    }
    return {
      source: run.source,
      runId: run.run_id,
      status: run.status,
      ingestedAt: run.ingested_at,
      finishedAt: run.finished_at,
      origin: run.origin,
      sha256: run.sha256,
      bytes: run.bytes === null ? null : Number(run.bytes),
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
    figures: figures.map((row) => ({
      source: row.source,
      road: row.road_name,
      vehicle: row.vehicle,
      deaths: row.number_deaths,
    })),
    snapshots: [...snapshots].map(([source, createdAt]) => ({ source, createdAt })),
    runs: withReasons,
  };
}
