import type { Kysely } from "kysely";
import { VEHICLES } from "../domain/columns.js";
import type { RoadDeaths } from "../domain/deaths-aggregator.js";
import { RoadtollError } from "../errors.js";
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
 * retried step therefore leaves exactly the rows of a single successful run, and a failed one leaves none.
 */
export async function replaceDeathsSnapshot(db: Kysely<Database>, snapshot: DeathsSnapshot): Promise<number> {
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
    await db.transaction().execute(async (trx) => {
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
    });
  } catch (error) {
    const transient = isTransientDatabaseFailure(error);
    throw new RoadtollError(
      transient ? "DatabaseUnavailableError" : "DatabaseError",
      `cannot write deaths_by_vehicle for ${snapshot.source}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return rows.length;
}

/**
 * Whether a retry can succeed: the connection failed or the server is busy, shutting down or broke a
 * serialisation conflict (SQLSTATE classes 08, 53, 57, 40). A constraint or syntax error would fail the same
 * way every time, so it is not retried. An error without a code is transient only when it says the connection
 * broke (pg and pg-pool raise those without a code); anything else unknown is not retried blindly.
 */
export function isTransientDatabaseFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") {
    const message = error instanceof Error ? error.message : String(error);
    return CONNECTION_LOST.test(message);
  }
  if (/^(08|53|57|40)/.test(code)) return true;
  return /^(ECONN|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)/.test(code);
}

/** How pg and pg-pool word a lost or impossible connection when they give no code. */
const CONNECTION_LOST =
  /connection terminated|timeout exceeded when trying to connect|connection error|not queryable|socket hang up/i;
