import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { CompiledQuery, Kysely, PostgresDialect, type PostgresPool } from "kysely";
import pg from "pg";
import { checkDatabase, describeDatabase } from "../../db/database.js";
import { createEmbeddedDatabase } from "../../db/embedded-database.js";
import { migrateToLatest } from "../../db/migrate.js";
import type { Database } from "../../db/schema.js";
import { RoadtollError } from "../../errors.js";
import { lockDataDir } from "../../local/data-dir-lock.js";

export interface CommandDatabase {
  db: Kysely<Database>;
  /** "PGlite (<dir>)" or "Postgres at host:port/db", never a password. */
  label: string;
  close(): Promise<void>;
}

/**
 * The database `npm start` uses, and nothing else (no S3, no samples server): Postgres at `databaseUrl`, else
 * PGlite under `dataDir`, whose lock is held while the command runs (PGlite takes no second process). Migrated,
 * so a fresh data directory works.
 */
export async function openCommandDatabase(options: {
  dataDir: string;
  databaseUrl: string | undefined;
}): Promise<CommandDatabase> {
  const closers: Array<() => Promise<unknown>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
  };
  try {
    let db: Kysely<Database>;
    let label: string;
    if (options.databaseUrl) {
      const config = { kind: "url" as const, url: options.databaseUrl };
      db = new Kysely<Database>({
        dialect: new PostgresDialect({ pool: singleStatementPool(options.databaseUrl) }),
      });
      closers.push(() => db.destroy());
      label = `Postgres at ${describeDatabase(config)}`;
      await checkDatabase(db, describeDatabase(config));
    } else {
      await mkdir(options.dataDir, { recursive: true });
      const lock = lockDataDir(options.dataDir);
      closers.push(async () => lock.release());
      const directory = join(options.dataDir, "pglite");
      await mkdir(directory, { recursive: true });
      ({ db } = await createEmbeddedDatabase(directory));
      closers.push(() => db.destroy());
      label = `PGlite (${directory})`;
    }
    await migrateToLatest(db);
    return { db, label, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * A pg pool whose queries all use the extended protocol, as PGlite's `query` does: the server then refuses a text
 * with several statements ("cannot insert multiple commands into a prepared statement"). With the simple
 * protocol (what pg uses for a query without parameters), `commit; delete from …` would end the read-only
 * transaction and run the delete.
 */
function singleStatementPool(url: string): PostgresPool {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
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

/**
 * Runs one statement in a read-only transaction, always rolled back: the database itself refuses any write
 * (SQLSTATE 25006), whatever the statement is.
 */
export async function runReadOnly(
  db: Kysely<Database>,
  statement: string,
): Promise<Record<string, unknown>[]> {
  return db.connection().execute(async (connection) => {
    await connection.executeQuery(CompiledQuery.raw("start transaction read only"));
    try {
      const result = await connection.executeQuery<Record<string, unknown>>(CompiledQuery.raw(statement));
      return [...result.rows];
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const message = error instanceof Error ? error.message : String(error);
      if (code === "25006") {
        throw new RoadtollError(
          "DatabaseError",
          `refused by the database: ${message} (roadtoll sql only reads; run the pipeline to change the tables)`,
          { cause: error },
        );
      }
      throw new RoadtollError("DatabaseError", message, { cause: error });
    } finally {
      await connection.executeQuery(CompiledQuery.raw("rollback")).catch(() => {});
    }
  });
}
