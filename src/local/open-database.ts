import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Kysely, PostgresDialect, type PostgresPool } from "kysely";
import pg from "pg";
import { checkDatabase, createDatabase, describeDatabase } from "../db/database.js";
import { pgTypes } from "../db/int8.js";
import { migrateToLatest, missingMigrations } from "../db/migrate.js";
import { migrations } from "../db/migrations/index.js";
import type { Database } from "../db/schema.js";
import { dataDirState, OLDER_MAJOR, PGLITE_MAJOR } from "../db/upgrade-data-dir.js";
import { isRoadtollError, RoadtollError } from "../errors.js";
import { lockDataDir } from "./data-dir-lock.js";
import { fetchSnapshot, startSnapshotServer } from "./snapshot-server.js";

/**
 * What the database is opened for:
 * - `run`: the pipeline (`npm start`, `roadtoll serve`). The caller already holds the data directory's lock (it
 *   covers the embedded S3 too); PGlite serves snapshots to read commands meanwhile; the schema is migrated.
 * - `write` (forget, migrate): takes the lock, migrates.
 * - `read` (results, runs, sql, report): creates and changes nothing. A data directory another roadtoll process
 *   holds is read from a snapshot that process serves; a missing database, or one without roadtoll's schema or
 *   with an older one, is a SchemaError naming the command that migrates it.
 */
export type DatabaseUse = "run" | "write" | "read";

export interface OpenDatabaseOptions {
  use: DatabaseUse;
  /** PGlite lives in `<dataDir>/pglite` unless `databaseUrl` is given. */
  dataDir: string;
  databaseUrl: string | undefined;
  log?: (line: string) => void;
}

export interface OpenedDatabase {
  db: Kysely<Database>;
  /** "PGlite (<dir>)" or "Postgres at host:port/db", never a password. */
  label: string;
  /** The migrations applied on opening (run and write). */
  migrated: string[];
  /** The Postgres URL, when it is one (not PGlite): a second connection can cancel a query. */
  url?: string | undefined;
  close(): Promise<void>;
}

/** The one way every local entry point opens Postgres or PGlite, locks, and migrates or checks the schema. */
export async function openLocalDatabase(options: OpenDatabaseOptions): Promise<OpenedDatabase> {
  const closers: Array<() => Promise<unknown>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
  };
  try {
    let db: Kysely<Database>;
    let label: string;
    if (options.databaseUrl) {
      const config = { kind: "url" as const, url: options.databaseUrl };
      db =
        options.use === "run"
          ? await createDatabase(config)
          : new Kysely<Database>({
              dialect: new PostgresDialect({ pool: singleStatementPool(options.databaseUrl) }),
            });
      closers.push(() => db.destroy());
      label = `Postgres at ${describeDatabase(config)}`;
      // A server that is down fails at once with DatabaseUnavailableError, after a few quick tries.
      await checkDatabase(db, describeDatabase(config));
    } else {
      ({ db, label } = await openPglite(options, closers));
    }
    options.log?.(`database: ${label}`);
    let migrated: string[] = [];
    if (options.use !== "read") {
      ({ applied: migrated } = await migrateToLatest(db, options.log));
    } else {
      const missing = await missingMigrations(db);
      if (missing.length > 0) {
        const none = missing.length === Object.keys(migrations).length;
        throw new RoadtollError(
          "SchemaError",
          `${label} ${none ? "has no roadtoll schema" : `lacks migration${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`}: ` +
            `read commands change nothing; roadtoll migrate${options.databaseUrl ? " --database-url …" : ""} ` +
            `(or a pipeline run) ${none ? "creates" : "updates"} it`,
        );
      }
    }
    return { db, label, migrated, url: options.databaseUrl, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

async function openPglite(
  options: OpenDatabaseOptions,
  closers: Array<() => Promise<unknown>>,
): Promise<{ db: Kysely<Database>; label: string }> {
  const directory = join(options.dataDir, "pglite");
  const noDatabase = () =>
    new RoadtollError(
      "SchemaError",
      `no database in ${directory}: run the pipeline first (npm start), or create an empty one with roadtoll migrate`,
    );
  if (options.use === "read" && !existsSync(options.dataDir)) throw noDatabase();
  await mkdir(options.dataDir, { recursive: true });
  // PGlite's WebAssembly build is loaded only for a data directory, not for a database URL.
  const { createEmbeddedDatabase } = await import("../db/embedded-database.js");
  let snapshot: Awaited<ReturnType<typeof fetchSnapshot>>;
  if (options.use !== "run") {
    try {
      const lock = lockDataDir(options.dataDir);
      closers.push(async () => lock.release());
    } catch (error) {
      // A run or `roadtoll serve` holds the directory: a reader reads a snapshot of its database instead.
      if (options.use !== "read" || !isRoadtollError(error, "DataDirInUseError")) throw error;
      snapshot = await fetchSnapshot(options.dataDir);
      if (!snapshot) throw error;
    }
  }
  if (snapshot) {
    const { db } = await createEmbeddedDatabase(undefined, { snapshot: snapshot.bytes });
    closers.push(() => db.destroy());
    return {
      db,
      label: `PGlite (${directory}, a snapshot taken now from the roadtoll process holding it, pid ${snapshot.pid})`,
    };
  }
  // Judged once the lock is held: a run holding it may be creating or upgrading the database.
  const state = await dataDirState(directory);
  if (options.use === "read" && state === "none") throw noDatabase();
  if (options.use === "read" && state !== "current")
    throw new RoadtollError(
      "SchemaError",
      `${directory} was written by an older roadtoll's PGlite (PostgreSQL ${OLDER_MAJOR}): read commands change ` +
        `nothing; roadtoll migrate (or a pipeline run) upgrades it to PostgreSQL ${PGLITE_MAJOR}, once, and keeps ` +
        "the old directory beside it",
    );
  if (state === "none") await mkdir(directory, { recursive: true });
  const { db, pglite } = await createEmbeddedDatabase(directory, { log: options.log });
  closers.push(() => db.destroy());
  if (options.use === "run") {
    // Read commands (results, runs, sql, report) read a snapshot of it while this process holds the directory.
    const snapshots = await startSnapshotServer(pglite, options.dataDir);
    closers.push(snapshots.close);
  }
  return { db, label: `PGlite (${directory})` };
}

/**
 * A pg pool whose queries all use the extended protocol, as PGlite's `query` does: the server then refuses a text
 * with several statements ("cannot insert multiple commands into a prepared statement"). With the simple
 * protocol (what pg uses for a query without parameters), `commit; delete from …` would end the read-only
 * transaction and run the delete.
 */
function singleStatementPool(url: string): PostgresPool {
  const pool = new pg.Pool({ connectionString: url, max: 1, types: pgTypes });
  pool.on("error", () => {});
  return {
    // Kysely opens a control connection with these to cancel a query.
    Client: pg.Client,
    options: pool.options,
    connect: async () => {
      const client = await pool.connect();
      client.on("error", () => {});
      return {
        query: ((text: string, values: unknown[]) =>
          client.query({ text, values, queryMode: "extended" } as pg.QueryConfig)) as never,
        release: () => client.release(),
      };
    },
    end: () => pool.end(),
  };
}
