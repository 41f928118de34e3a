import { type Kysely, sql } from "kysely";

/**
 * `roadtoll forget SOURCE` takes a source's current figures out (to the history tables) and records it as a run
 * of status `forgotten`, which has no files: its object keys may be null.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table pipeline_runs
      drop constraint pipeline_runs_status_check,
      add constraint pipeline_runs_status_check check (status in ('succeeded', 'rejected', 'forgotten')),
      alter column clean_key drop not null,
      alter column rejects_key drop not null
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from pipeline_runs where status = 'forgotten'`.execute(db);
  await sql`
    alter table pipeline_runs
      drop constraint pipeline_runs_status_check,
      add constraint pipeline_runs_status_check check (status in ('succeeded', 'rejected')),
      alter column clean_key set not null,
      alter column rejects_key set not null
  `.execute(db);
}
