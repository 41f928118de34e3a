import { type Kysely, sql } from "kysely";

/**
 * Each run's rejects counted by kind, as data: a JSON array of `{column, kind, count}` (domain/rejects.ts), most
 * common first; `[]` for a run with no reject. The report and `roadtoll sql` read the counts here rather than
 * re-reading and re-parsing the rejects object. Null for runs recorded before this migration and for forgotten
 * sources.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("pipeline_runs")
    .addColumn("reject_kinds", "jsonb", (column) =>
      column.check(sql`reject_kinds is null or jsonb_typeof(reject_kinds) = 'array'`),
    )
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("pipeline_runs").dropColumn("reject_kinds").execute();
}
