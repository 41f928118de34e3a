import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { CompiledQuery, Kysely, PostgresDialect, type PostgresPool } from "kysely";
import pg from "pg";
import { checkDatabase, describeDatabase } from "../../db/database.js";
import { pgTypes } from "../../db/int8.js";
import { migrateToLatest, missingMigrations } from "../../db/migrate.js";
import { migrations } from "../../db/migrations/index.js";
import type { Database } from "../../db/schema.js";
import { isRoadtollError, RoadtollError } from "../../errors.js";
import { lockDataDir } from "../../local/data-dir-lock.js";
import { fetchSnapshot } from "../../local/snapshot-server.js";

export interface CommandDatabase {
  db: Kysely<Database>;
  /** "PGlite (<dir>)" or "Postgres at host:port/db", never a password. */
  label: string;
  /** The migrations applied on opening (write mode). */
  migrated: string[];
  /** The Postgres URL, when it is one (not PGlite): a second connection can cancel a query. */
  url?: string | undefined;
  close(): Promise<void>;
}

/**
 * The database `npm start` uses, and nothing else (no S3, no samples server): Postgres at `databaseUrl`, else
 * PGlite under `dataDir`, whose lock is held while the command runs (PGlite takes no second process).
 *
 * `write` (forget, migrate) brings the schema up to date first. `read` (results, runs, sql, report) creates and
 * changes nothing: a data directory without a database, or a database without roadtoll's schema or with an
 * older one, is a SchemaError naming the command that migrates it.
 */
export async function openCommandDatabase(options: {
  dataDir: string;
  databaseUrl: string | undefined;
  mode: "read" | "write";
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
      const directory = join(options.dataDir, "pglite");
      const noDatabase = () =>
        new RoadtollError(
          "SchemaError",
          `no database in ${directory}: run the pipeline first (npm start), or create an empty one with ` +
            "roadtoll migrate",
        );
      if (options.mode === "read" && !existsSync(options.dataDir)) throw noDatabase();
      await mkdir(options.dataDir, { recursive: true });
      // PGlite's WebAssembly build is loaded only for a data directory, not for --database-url.
      const { createEmbeddedDatabase } = await import("../../db/embedded-database.js");
      let snapshot: Awaited<ReturnType<typeof fetchSnapshot>>;
      try {
        const lock = lockDataDir(options.dataDir);
        closers.push(async () => lock.release());
      } catch (error) {
        // A run or `roadtoll serve` holds the directory: a reader reads a snapshot of its database instead.
        if (options.mode !== "read" || !isRoadtollError(error, "DataDirInUseError")) throw error;
        snapshot = await fetchSnapshot(options.dataDir);
        if (!snapshot) throw error;
      }
      if (snapshot) {
        ({ db } = await createEmbeddedDatabase(undefined, { snapshot: snapshot.bytes }));
        label = `PGlite (${directory}, a snapshot taken now from the roadtoll process holding it, pid ${snapshot.pid})`;
      } else {
        // Judged once the lock is held: a run holding it may be creating the database.
        if (options.mode === "read" && !existsSync(join(directory, "PG_VERSION"))) throw noDatabase();
        await mkdir(directory, { recursive: true });
        ({ db } = await createEmbeddedDatabase(directory));
        label = `PGlite (${directory})`;
      }
      closers.push(() => db.destroy());
    }
    let migrated: string[] = [];
    if (options.mode === "write") {
      ({ applied: migrated } = await migrateToLatest(db));
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

export interface ReadOnlyOptions {
  /** Server-side statement_timeout, for each statement (every page fetched is one); 0 for none. PGlite runs in
   * this process and has no timer to honour it. */
  timeoutMs: number;
  /** Called with the backend's pid once the statement is about to run (to cancel it from elsewhere). */
  onStart?: (pid: number) => void;
}

/**
 * Rows fetched at a time: a page of any realistic row is well under a MB, and a typical result is one page. Smaller
 * pages than 10,000 keep V8's young generation from growing (5,000,000 rows to CSV: 8 MB less peak RSS).
 */
export const PAGE_ROWS = 2_000;

/**
 * Runs one statement in a read-only transaction, always rolled back: the database itself refuses any write
 * (SQLSTATE 25006), whatever the statement is. Where the user may, it runs as roadtoll_reader (migration 0007),
 * which may only read roadtoll's tables: a superuser's `COPY … TO` a file or program, `pg_stat_reset()` or
 * `pg_reload_conf()`, which the read-only transaction lets through, are then refused too (SQLSTATE 42501).
 *
 * The rows reach `onPage` a page at a time through a cursor, so memory stays that of one page whatever the result's
 * size; the next page is fetched once `onPage` has finished with this one. A statement a cursor cannot hold
 * (SHOW, EXPLAIN) runs as it is, in one page. Returns the number of rows.
 */
export async function runReadOnly(
  db: Kysely<Database>,
  statement: string | CompiledQuery,
  onPage: (rows: readonly Record<string, unknown>[]) => void | Promise<void>,
  options: ReadOnlyOptions = { timeoutMs: 0 },
): Promise<number> {
  const query = typeof statement === "string" ? CompiledQuery.raw(statement) : statement;
  return db.connection().execute(async (connection) => {
    // The database's refusals become DatabaseErrors; what onPage throws passes as it is.
    const run = async <R>(compiled: CompiledQuery): Promise<readonly R[]> => {
      try {
        return (await connection.executeQuery<R>(compiled)).rows;
      } catch (error) {
        throw readOnlyFailure(error);
      }
    };
    const raw = (text: string) => run(CompiledQuery.raw(text));
    await raw("start transaction read only");
    try {
      const [session] = await run<{ pid: number; reader: boolean }>(
        CompiledQuery.raw(
          "select pg_backend_pid() as pid, case when exists (select 1 from pg_roles where rolname = " +
            "'roadtoll_reader') then pg_has_role(current_user, 'roadtoll_reader', 'MEMBER') else false end as reader",
        ),
      );
      const { pid, reader } = session ?? { pid: 0, reader: false };
      if (reader) await raw("set local role roadtoll_reader");
      await raw(`set local statement_timeout = ${Math.max(0, Math.floor(options.timeoutMs))}`);
      options.onStart?.(pid);
      await raw("savepoint roadtoll_cursor");
      const cursor = await connection
        .executeQuery(
          CompiledQuery.raw(`declare roadtoll_rows no scroll cursor for ${query.sql}`, [...query.parameters]),
        )
        .then(
          () => true,
          async (error: unknown) => {
            // Cancelled (Ctrl-C, --timeout) while it was planned: nothing more is run.
            if ((error as { code?: unknown }).code === "57014") throw readOnlyFailure(error);
            // Not a query a cursor can hold, or not a query at all: running it as it is gives its own answer.
            await raw("rollback to savepoint roadtoll_cursor");
            return false;
          },
        );
      if (!cursor) {
        const rows = await run<Record<string, unknown>>(query);
        await onPage(rows);
        return rows.length;
      }
      let count = 0;
      for (;;) {
        const rows = await raw(`fetch forward ${PAGE_ROWS} from roadtoll_rows`);
        count += rows.length;
        if (rows.length > 0) await onPage(rows as readonly Record<string, unknown>[]);
        if (rows.length < PAGE_ROWS) return count;
      }
    } finally {
      await connection.executeQuery(CompiledQuery.raw("rollback")).catch(() => {});
    }
  });
}

function readOnlyFailure(error: unknown): RoadtollError {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "25006" || code === "42501") {
    return new RoadtollError(
      "DatabaseError",
      `refused by the database: ${message} (roadtoll sql only reads roadtoll's tables; run the pipeline to ` +
        "change them)",
      { cause: error },
    );
  }
  return new RoadtollError("DatabaseError", message, { cause: error });
}

/** Asks Postgres to cancel what a backend is running (Ctrl-C in `roadtoll sql`), over a connection of its own. */
export async function cancelBackend(url: string, pid: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("select pg_cancel_backend($1)", [pid]);
  } finally {
    await client.end().catch(() => {});
  }
}
