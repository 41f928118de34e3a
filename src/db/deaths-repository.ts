import type { Kysely } from "kysely";
import { VEHICLES } from "../domain/columns.js";
import type { RoadDeaths } from "../domain/deaths-aggregator.js";
import { DEFAULT_RETRY, databaseFailure, type RetryPolicy, retryTransient } from "./retry.js";
import type { Database, NewDeathsRow } from "./schema.js";

export interface DeathsSnapshot {
  source: string;
  createdAt: Date;
  roads: readonly RoadDeaths[];
}

/** Rows per INSERT: far below Postgres' 65,535 bind-parameter limit (5 per row) for any number of roads. */
const BATCH = 1000;

/**
 * Writes one snapshot in one transaction, replacing whatever a previous attempt at the same snapshot wrote. A
 * retried step therefore leaves exactly the rows of a single successful run, and a failed one leaves none. A
 * transaction cut by a lost connection is rolled back by the server and run again, whole, a bounded number of
 * times (db/retry.ts); a commit whose acknowledgement was lost is simply replaced by an identical one.
 */
export async function replaceDeathsSnapshot(
  db: Kysely<Database>,
  snapshot: DeathsSnapshot,
  retry: RetryPolicy = DEFAULT_RETRY,
): Promise<number> {
  const rows: NewDeathsRow[] = snapshot.roads.flatMap(({ road, deaths }) =>
    VEHICLES.map((vehicle) => ({
      created_at: snapshot.createdAt,
      source: snapshot.source,
      road_name: road,
      vehicle,
      number_deaths: deaths[vehicle],
    })),
  );
  try {
    await retryTransient(
      () =>
        db.transaction().execute(async (trx) => {
          await trx
            .deleteFrom("deaths_by_vehicle")
            .where("source", "=", snapshot.source)
            .where("created_at", "=", snapshot.createdAt)
            .execute();
          for (let i = 0; i < rows.length; i += BATCH) {
            await trx
              .insertInto("deaths_by_vehicle")
              .values(rows.slice(i, i + BATCH))
              .execute();
          }
        }),
      retry,
    );
  } catch (error) {
    throw databaseFailure(error, `cannot write deaths_by_vehicle for ${snapshot.source}`);
  }
  return rows.length;
}
