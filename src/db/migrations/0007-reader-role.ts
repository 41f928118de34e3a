import { type Kysely, sql } from "kysely";

/**
 * `roadtoll sql` runs a person's statement as `roadtoll_reader`, which may only read roadtoll's tables: the
 * read-only transaction alone lets a superuser `COPY … TO` a file or a program, `pg_stat_reset()` or
 * `pg_reload_conf()`. Made by the migrations, a member of nothing; whoever runs `sql` sets it when they may (a
 * superuser, or a user granted the role).
 *
 * Roles belong to the whole server, not to one database, so creating it tolerates its existence.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    do $$ begin
      create role roadtoll_reader nologin;
    exception when duplicate_object or unique_violation then null;
    end $$
  `.execute(db);
  await sql`grant usage on schema public to roadtoll_reader`.execute(db);
  await sql`grant select on all tables in schema public to roadtoll_reader`.execute(db);
  await sql`alter default privileges in schema public grant select on tables to roadtoll_reader`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter default privileges in schema public revoke select on tables from roadtoll_reader`.execute(
    db,
  );
  await sql`revoke select on all tables in schema public from roadtoll_reader`.execute(db);
  await sql`revoke usage on schema public from roadtoll_reader`.execute(db);
  await sql`
    do $$ begin
      drop role roadtoll_reader;
    exception when dependent_objects_still_exist then null;
    end $$
  `.execute(db);
}
