import { type Kysely, sql } from "kysely";

/**
 * Counts as bigint: `integer` stops at 2,147,483,647, so three rows of 1,000,000,000 deaths on one road failed the
 * whole link at INSERT. The aggregator keeps every figure of a file within 2^53 − 1 (it rejects the row that
 * would pass it, domain/deaths-aggregator.ts), which bigint holds and JavaScript reads exactly (db/int8.ts).
 */
const ACCIDENT_COUNTS = [
  "accidents",
  "deaths",
  "deaths_automovel",
  "deaths_bicicleta",
  "deaths_caminhao",
  "deaths_moto",
  "deaths_onibus",
];
const COLUMNS: Record<string, string[]> = {
  deaths_by_vehicle: ["number_deaths"],
  deaths_by_vehicle_history: ["number_deaths"],
  accidents_by_road_year: ACCIDENT_COUNTS,
  accidents_by_road_year_history: ACCIDENT_COUNTS,
  pipeline_runs: ["rows_read", "rows_accepted", "rows_rejected", "roads", "total_deaths"],
};

async function retype(db: Kysely<unknown>, type: "bigint" | "integer"): Promise<void> {
  for (const [table, columns] of Object.entries(COLUMNS)) {
    // One ALTER per table: Postgres rewrites the table once for all its columns.
    const changes = columns.map((column) => sql`alter column ${sql.ref(column)} type ${sql.raw(type)}`);
    await sql`alter table ${sql.table(table)} ${sql.join(changes)}`.execute(db);
  }
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await retype(db, "bigint");
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await retype(db, "integer");
}
