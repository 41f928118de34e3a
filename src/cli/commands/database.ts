import { CompiledQuery, type Kysely } from "kysely";
import pg from "pg";
import type { Database } from "../../db/schema.js";
import { RoadtollError } from "../../errors.js";
import type { OpenedDatabase } from "../../local/open-database.js";

/** The database a command reads or writes, opened by local/open-database.ts. */
export type CommandDatabase = OpenedDatabase;

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
