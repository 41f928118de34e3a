import { type Kysely, sql } from "kysely";

/**
 * One meaning for deaths_by_vehicle: the current figures, one snapshot per source, so a plain sum is right.
 * Earlier snapshots move to deaths_by_vehicle_history (the newest per source stays current), and pipeline_runs
 * records every run's lineage. roadtoll_writer gets both new tables through 0002's default privileges.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table deaths_by_vehicle_history (
      like deaths_by_vehicle including defaults including constraints including indexes,
      archived_at timestamptz not null default now()
    )
  `.execute(db);
  await sql`
    insert into deaths_by_vehicle_history (created_at, source, road_name, vehicle, number_deaths)
    select created_at, source, road_name, vehicle, number_deaths from deaths_by_vehicle d
    where created_at < (select max(created_at) from deaths_by_vehicle m where m.source = d.source)
  `.execute(db);
  await sql`
    delete from deaths_by_vehicle d
    where created_at < (select max(created_at) from deaths_by_vehicle m where m.source = d.source)
  `.execute(db);

  await db.schema
    .createTable("pipeline_runs")
    // The ingest step's runId: one row per run, updated in place when a step is retried.
    .addColumn("run_id", "text", (column) => column.primaryKey())
    .addColumn("source", "text", (column) => column.notNull())
    .addColumn("status", "text", (column) => column.notNull().check(sql`status in ('succeeded', 'rejected')`))
    // Whether this run's snapshot is the source's current one (false: an older run that finished late).
    .addColumn("current", "boolean", (column) => column.notNull())
    .addColumn("ingested_at", "timestamptz", (column) => column.notNull())
    .addColumn("finished_at", "timestamptz", (column) => column.notNull())
    // The link, redacted (no credential or query value), or the S3 object it came from.
    .addColumn("origin", "text")
    .addColumn("sha256", "text")
    .addColumn("bytes", "bigint")
    .addColumn("raw_key", "text")
    .addColumn("clean_key", "text", (column) => column.notNull())
    .addColumn("rejects_key", "text", (column) => column.notNull())
    .addColumn("rows_read", "integer", (column) => column.notNull())
    .addColumn("rows_accepted", "integer", (column) => column.notNull())
    .addColumn("rows_rejected", "integer", (column) => column.notNull())
    .addColumn("roads", "integer", (column) => column.notNull())
    .addColumn("total_deaths", "integer", (column) => column.notNull())
    .addColumn("execution", "text")
    .addColumn("error", "text")
    .execute();
  await db.schema
    .createIndex("pipeline_runs_source_ingested_at_idx")
    .on("pipeline_runs")
    .columns(["source", "ingested_at desc"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("pipeline_runs").execute();
  await sql`
    insert into deaths_by_vehicle (created_at, source, road_name, vehicle, number_deaths)
    select created_at, source, road_name, vehicle, number_deaths from deaths_by_vehicle_history
    on conflict do nothing
  `.execute(db);
  await db.schema.dropTable("deaths_by_vehicle_history").execute();
}
