import { randomBytes } from "node:crypto";
import { type Kysely, sql } from "kysely";
import { archiveOlder, SNAPSHOT_TABLES, type SnapshotTable } from "./deaths-repository.js";
import { DEFAULT_RETRY, databaseFailure, retryTransient } from "./retry.js";
import type { Database } from "./schema.js";

export interface Forgotten {
  /** The run recorded for it (status `forgotten`). */
  runId: string;
  /** When the figures taken out were captured. */
  snapshot: Date;
  roads: number;
  rows: number;
}

/**
 * Takes a source's current figures out, in one transaction under the source's lock (as publishSnapshot takes
 * it): its snapshot moves to the history tables, no run of it stays current, and a run of status `forgotten`
 * records when and why. A run ingested before this, finishing later, goes to history (publishSnapshot checks),
 * so bad data cannot come back by itself; a new run of the source makes it current again. Undefined when the
 * source has no current figures (nothing is written).
 */
export async function forgetSource(
  db: Kysely<Database>,
  source: string,
  options: { reason?: string | undefined; now?: Date } = {},
): Promise<Forgotten | undefined> {
  try {
    return await retryTransient(
      () =>
        db.transaction().execute(async (trx) => {
          await sql`select pg_advisory_xact_lock(hashtext(${`roadtoll:${source}`}))`.execute(trx);
          const snapshot = await trx
            .selectFrom("deaths_by_vehicle")
            .select((eb) => [
              eb.fn.max("created_at").as("created_at"),
              eb.fn.count<string>("road_name").distinct().as("roads"),
              eb.fn.countAll<string>().as("rows"),
            ])
            .where("source", "=", source)
            .executeTakeFirst();
          if (!snapshot?.created_at) return undefined;
          const now = options.now ?? new Date();
          // Everything the source has now, whatever its time: a clock behind the snapshot's must not keep any.
          const after = new Date(Math.max(now.getTime(), new Date(snapshot.created_at).getTime()) + 1);
          for (const table of Object.keys(SNAPSHOT_TABLES) as SnapshotTable[]) {
            await archiveOlder(trx, table, source, after);
          }
          await trx
            .updateTable("pipeline_runs")
            .set({ current: false })
            .where("source", "=", source)
            .where("current", "=", true)
            .execute();
          const runId = `${after.toISOString().replace(/[-:.]/g, "")}-forget-${randomBytes(3).toString("hex")}`;
          await trx
            .insertInto("pipeline_runs")
            .values({
              run_id: runId,
              source,
              status: "forgotten",
              current: false,
              ingested_at: after,
              finished_at: after,
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
              error: options.reason ? `forgotten: ${options.reason}` : "forgotten",
            })
            .execute();
          return {
            runId,
            snapshot: new Date(snapshot.created_at),
            roads: Number(snapshot.roads),
            rows: Number(snapshot.rows),
          };
        }),
      DEFAULT_RETRY,
    );
  } catch (error) {
    throw databaseFailure(error, `cannot forget ${source}`);
  }
}
