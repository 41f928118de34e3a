import { type Kysely, sql } from "kysely";

/**
 * The pipeline's functions connect as a login user that is a member of `roadtoll_writer`, never as the RDS
 * master user: the role may read and replace rows in the pipeline's tables and nothing else (no DDL, no other
 * table, not the migrations' own bookkeeping). Login users are made by the migrate function from their own
 * secret (db/app-user.ts), because a password has no place in a migration.
 *
 * Roles belong to the whole server, not to one database, so creating it tolerates its existence (another
 * database on the server, or a concurrent migration of one, may have made it already).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    do $$ begin
      create role roadtoll_writer nologin;
    exception when duplicate_object or unique_violation then null;
    end $$
  `.execute(db);
  await sql`grant usage on schema public to roadtoll_writer`.execute(db);
  await sql`grant select, insert, delete on deaths_by_vehicle to roadtoll_writer`.execute(db);
  // Tables later migrations create (run by this same user) get the same grants without repeating them.
  await sql`alter default privileges in schema public grant select, insert, update, delete on tables to roadtoll_writer`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter default privileges in schema public revoke select, insert, update, delete on tables from roadtoll_writer`.execute(
    db,
  );
  await sql`revoke all on deaths_by_vehicle from roadtoll_writer`.execute(db);
  await sql`revoke usage on schema public from roadtoll_writer`.execute(db);
  // Still granted in another database of the server: leave it to that database.
  await sql`
    do $$ begin
      drop role roadtoll_writer;
    exception when dependent_objects_still_exist then null;
    end $$
  `.execute(db);
}
