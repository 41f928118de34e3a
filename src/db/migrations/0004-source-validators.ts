import type { Kysely } from "kysely";

/**
 * The source's validators for each run: the HTTP response's ETag and Last-Modified (or the landing object's
 * ETag), kept verbatim so a conditional request can send them back. Nullable: earlier runs, hand-made events and
 * servers that send none have no value.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("pipeline_runs")
    .addColumn("source_etag", "text")
    .addColumn("source_last_modified", "text")
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("pipeline_runs")
    .dropColumn("source_etag")
    .dropColumn("source_last_modified")
    .execute();
}
