import type { Kysely } from "kysely";
import { ensureAppUser } from "./app-user.js";
import type { DatabaseCredentials } from "./database.js";
import { type MigrationReport, migrateToLatest } from "./migrate.js";

export interface PreparedDatabase extends MigrationReport {
  /** The login user the functions connect as, when the deploy names one. */
  appUser?: string;
}

/**
 * What a deploy does to the database, as the administrator: migrate, then make or update the functions' own
 * login user from its secret (a member of roadtoll_writer and nothing more).
 */
export async function prepareDatabase<DB>(
  db: Kysely<DB>,
  options: { appUser?: () => Promise<DatabaseCredentials>; log?: (line: string) => void } = {},
): Promise<PreparedDatabase> {
  const report = await migrateToLatest(db, options.log);
  if (!options.appUser) return report;
  const credentials = await options.appUser();
  const outcome = await ensureAppUser(db, credentials);
  options.log?.(`app user ${credentials.username}: ${outcome}, member of roadtoll_writer`);
  return { ...report, appUser: credentials.username };
}
