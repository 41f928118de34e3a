import { findNamedQuery, listNamedQueries } from "../../analytics/named-queries.js";
import { RoadtollError } from "../../errors.js";
import type { CliIo } from "../run.js";
import { samplesLeftOutNote } from "../samples.js";
import type { CommandDatabase } from "./database.js";

/** What a statement may take on Postgres unless told otherwise: ample for an analysis, short of forgotten. */
const DEFAULT_TIMEOUT_SECONDS = 300;

import { FORMATS, type Format, formatRows } from "./format.js";

type Values = Record<string, string | boolean | string[] | undefined>;

/** `roadtoll sql`: the command's entry in COMMANDS (index.ts), which passes its shared usage texts. */
export function sqlCommand(databaseOptions: string, exit: string) {
  return {
    usage: `Usage: roadtoll sql "STATEMENT" [--format table|json|csv] [database options]
       roadtoll sql --query NAME [--format table|json|csv] [database options]
       roadtoll sql --list-queries [--format table|json|csv]

Runs one SQL statement in a read-only transaction, rolled back afterwards: the database refuses any write (exit 1).
Tables: deaths_by_vehicle (current figures), deaths_by_vehicle_history, accidents_by_road_year (accidents and
deaths per road and year), accidents_by_road_year_history, pipeline_runs.
  e.g. roadtoll sql "select vehicle, sum(number_deaths) from deaths_by_vehicle group by vehicle"

  --query NAME        run a named query (src/analytics/queries/NAME.sql) instead of a statement, the same way;
                      it leaves the bundled samples' sources out (stderr says which) unless --include-samples
                      is given. A statement of your own sees every table as it is.
  --list-queries      list the named queries and what each computes (needs no database)
  --timeout SECONDS   the server cancels the statement after this long (default ${DEFAULT_TIMEOUT_SECONDS}; 0: no limit;
                      Postgres only: PGlite runs in this process and cannot be interrupted but by Ctrl-C)
  --format F          table (default), json or csv

${databaseOptions}

${exit}`,
    options: {
      query: { type: "string" as const },
      "list-queries": { type: "boolean" as const },
      "include-samples": { type: "boolean" as const },
      timeout: { type: "string" as const },
    },
    formats: FORMATS,
    positionals: 1,
    leavesSamplesOut: true,
    async run(
      { db, url }: CommandDatabase,
      values: Values,
      positionals: string[],
      format: Format,
      io: CliIo,
      samples: readonly string[],
    ) {
      const name = values.query as string | undefined;
      // sqlUsageProblem has made sure the name is known, or the statement there, before the database opened.
      const query = name === undefined ? undefined : await findNamedQuery(name);
      const leftOut = query ? samples : [];
      const timeoutMs = 1000 * Number((values.timeout as string | undefined) ?? DEFAULT_TIMEOUT_SECONDS);
      // Ctrl-C on Postgres: the server cancels the statement (else it would run on after the process ends).
      let backend: number | undefined;
      let interrupted = false;
      const onInterrupt = () => {
        interrupted = true;
        const running = backend;
        if (url && running !== undefined) {
          // Loaded already: the statement runs on the database it opened.
          void import("./database.js")
            .then(({ cancelBackend }) => cancelBackend(url, running))
            .catch(() => {});
        }
      };
      // PGlite runs in this thread, so a handler could not run before the query ends: Ctrl-C keeps its default.
      if (url) process.once("SIGINT", onInterrupt);
      // Between pages nothing runs on the server to cancel: the next page is not printed instead.
      const output: CliIo = {
        ...io,
        stdout: (text) => {
          if (interrupted) throw new RoadtollError("DatabaseError", "interrupted");
          return io.stdout(text);
        },
      };
      try {
        const { printRows } = await import("./print-rows.js");
        await printRows(
          db,
          query ? withoutSources(query.sql, leftOut) : (positionals[0] ?? ""),
          output,
          format,
          {
            timeoutMs,
            onStart: (pid) => {
              backend = pid;
            },
          },
        );
      } catch (error) {
        if (interrupted) {
          io.stderr("roadtoll sql: interrupted; the server cancelled the statement\n");
          return 130;
        }
        if ((error as { cause?: { code?: unknown } }).cause?.code === "57014") {
          throw new RoadtollError(
            "DatabaseError",
            `the statement ran past --timeout ${timeoutMs / 1000} s and the server cancelled it (--timeout 0: no limit)`,
            { cause: error },
          );
        }
        throw error;
      } finally {
        process.off("SIGINT", onInterrupt);
      }
      if (leftOut.length > 0) io.stderr(samplesLeftOutNote("sql", leftOut));
      return 0;
    },
  };
}

/** The tables a named query reads, as it should see them when sources are left out. */
const FIGURE_TABLES = ["deaths_by_vehicle", "accidents_by_road_year"] as const;

/**
 * A named query over the figures without some sources: each figure table is shadowed by a common table expression
 * of the same name (inside its own definition, a non-recursive CTE's name still means the table), so the query's
 * text stays as written in its file.
 */
export function withoutSources(statement: string, leftOut: readonly string[]): string {
  if (leftOut.length === 0) return statement;
  const names = leftOut.map((source) => `'${source.replaceAll("'", "''")}'`).join(", ");
  const shadows = FIGURE_TABLES.map(
    (table) => `${table} as (select * from ${table} where source not in (${names}))`,
  ).join(",\n");
  const body = statement.replace(/^(\s*--[^\n]*\n)*/, "");
  const own = /^\s*with\s/i.exec(body);
  return own ? `with ${shadows},\n${body.slice(own[0].length)}` : `with ${shadows}\n${body}`;
}

/** What is wrong with the statement, --query and --list-queries given, if anything: a usage error (exit 2). */
export async function sqlUsageProblem(values: Values, positionals: string[]): Promise<string | undefined> {
  const name = values.query as string | undefined;
  const list = values["list-queries"] === true;
  if ((name !== undefined || list) && positionals.length > 0) {
    return `give a statement${list ? ", --list-queries" : ""} or --query NAME, not both`;
  }
  if (name !== undefined && list) return "give --query NAME or --list-queries, not both";
  if (name !== undefined) {
    if (await findNamedQuery(name)) return undefined;
    const known = (await listNamedQueries()).map((query) => query.name);
    return `--query: no query named ${JSON.stringify(name)}; the named queries are ${known.join(", ")}`;
  }
  const timeout = values.timeout as string | undefined;
  if (timeout !== undefined && !/^\d{1,7}(\.\d+)?$/.test(timeout)) {
    return `--timeout: expected seconds (a number, 0 for no limit), got ${JSON.stringify(timeout)}`;
  }
  if (list) return undefined;
  if (positionals.length === 0) return 'missing the SQL statement (quote it: roadtoll sql "select …")';
  if (positionals.length > 1) {
    return `unexpected argument ${JSON.stringify(positionals[1])} (quote the whole statement as one argument)`;
  }
  if ((positionals[0] ?? "").trim() === "") return "the SQL statement is empty";
  return undefined;
}

/** `--list-queries`: each named query's name and summary, in the format asked for. */
export async function listQueries(format: Format): Promise<string> {
  const rows = (await listNamedQueries()).map(({ name, summary }) => ({ name, summary }));
  return formatRows(rows, format, { columns: ["name", "summary"] });
}
