import { type Kysely, sql } from "kysely";

/**
 * Accidents and deaths per source, road and year, so rates per accident and trends per year can be asked of the
 * database (the named queries in src/analytics/queries): deaths_by_vehicle alone knows neither how many accidents
 * a road had nor when. Same snapshot semantics: the current snapshot per source, earlier ones in the history.
 *
 * Existing snapshots cannot be filled in here (the figures come from the files, which the database does not
 * hold): a source's rows appear with its next successful run.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table accidents_by_road_year (
      created_at timestamptz not null,
      source text not null check (source <> ''),
      road_name text not null check (road_name <> ''),
      -- Null: the accident's date was missing or unreadable. Its row was still valid for the metric.
      year integer check (year between 1 and 9999),
      accidents integer not null check (accidents > 0),
      deaths integer not null check (deaths >= 0),
      -- Deaths in the accidents involving each type: a part of the year's deaths, never more.
      deaths_automovel integer not null check (deaths_automovel between 0 and deaths),
      deaths_bicicleta integer not null check (deaths_bicicleta between 0 and deaths),
      deaths_caminhao integer not null check (deaths_caminhao between 0 and deaths),
      deaths_moto integer not null check (deaths_moto between 0 and deaths),
      deaths_onibus integer not null check (deaths_onibus between 0 and deaths),
      -- One row per snapshot, road and year, the unknown year included: a retried step cannot add a second.
      constraint accidents_by_road_year_key unique nulls not distinct (source, created_at, road_name, year)
    )
  `.execute(db);
  await sql`
    create table accidents_by_road_year_history (
      like accidents_by_road_year including defaults including constraints including indexes,
      archived_at timestamptz not null default now()
    )
  `.execute(db);
  // Explicit, rather than through 0002's default privileges, which cover only tables made by the same user.
  await sql`
    grant select, insert, delete on accidents_by_road_year, accidents_by_road_year_history to roadtoll_writer
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("accidents_by_road_year_history").execute();
  await db.schema.dropTable("accidents_by_road_year").execute();
}
