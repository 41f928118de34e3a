import { parseArgs } from "node:util";
import { VEHICLES } from "../../domain/columns.js";
import { canonicalRoadName } from "../../domain/road-name.js";
import { isRoadtollError } from "../../errors.js";
import { swallowedByNpm } from "../npm-flags.js";
import type { CliIo } from "../run.js";
import { sampleDigests, samplesLeftOutNote } from "../samples.js";
import { closest, withOptionSuggestion } from "../suggest.js";
import { PIPELINE_OPTIONS, SERVE_OPTIONS, USAGE, UsageError } from "../usage.js";
import { dataDirPath } from "../user-paths.js";
// The database, its driver and the row printer are loaded by a command that reads (import() below): --help,
// a usage error and `sql --list-queries` start without them.
import type { CommandDatabase } from "./database.js";
import { FORMATS, type Format } from "./format.js";
import { DEFAULT_BUCKET, openCommandBucket, reportCommand } from "./report.js";
import { listQueries, sqlCommand, sqlUsageProblem } from "./sql.js";

const DATABASE_OPTIONS = `Database (as for npm start):
  --database-url URL  use this Postgres (default: $DATABASE_URL if set)
  --data-dir DIR      else the embedded PGlite in DIR/pglite (default: .roadtoll); a running \`npm start\` holds
                      the directory, and the command then exits 1
  -h, --help          this text`;

const EXIT = "Exit code: 0 on success, 1 when the database fails or refuses, 2 on bad usage.";

export const COMMANDS_USAGE = `Usage: roadtoll [command] [options]     (npm start -- [command] [options])

Commands:
  (none)      run the pipeline (the default; see roadtoll --help)
  results     the current figures in deaths_by_vehicle
  runs        the runs recorded in pipeline_runs, newest first
  sql         one read-only SQL statement, or a named analytics query (--query NAME)
  report      one self-contained HTML report (charts, rejects, lineage)
  forget      take a source's current figures out (to history), recorded as a run
  migrate     create or update roadtoll's schema in the database (the read commands never do)
  serve       the HTTP API on 127.0.0.1: uploads and runs, as deployed in AWS

roadtoll COMMAND --help describes a command.`;

interface Command {
  usage: string;
  options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;
  formats: readonly Format[];
  positionals: number;
  /** Whether the command may change the database (it is migrated first); read commands change nothing. */
  writes?: boolean;
  /** What a missing positional argument is, for the usage error. */
  missing?: string;
  /** Whether the command leaves the bundled samples out unless given --include-samples. */
  leavesSamplesOut?: boolean;
  run(
    db: CommandDatabase,
    values: Values,
    positionals: string[],
    format: Format,
    io: CliIo,
    leftOut: readonly string[],
  ): Promise<number>;
}

type Values = Record<string, string | boolean | string[] | undefined>;

const COMMON = {
  "database-url": { type: "string" },
  "data-dir": { type: "string" },
  format: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const RESULT_COLUMNS = ["source", "road_name", "vehicle", "number_deaths", "created_at"];
const RUN_COLUMNS = [
  "status",
  "source",
  "ingested_at",
  "finished_at",
  "rows_read",
  "rows_rejected",
  "total_deaths",
  "current",
  "origin",
];

const COMMANDS: Record<string, Command> = {
  results: {
    usage: `Usage: roadtoll results [--source S] [--road R] [--vehicle V] [--format table|json|csv] [database options]

The current figures (table deaths_by_vehicle: one snapshot per source, so sums are right): deaths in accidents
involving each vehicle type, per source and road.

Filters (each repeatable; a row matches any of the values given):
  --source S          a source (link name), e.g. amostra_via_norte
  --road R            a road, spelled any way the files do (BR-70/MT finds BR-070/MT)
  --vehicle V         ${VEHICLES.join(", ")}
  --format F          table (default), json (an array of objects) or csv (RFC 4180, with a header)
  --include-samples   also the bundled samples' figures (left out otherwise, unless named by --source; stderr
                      says which were left out)

${DATABASE_OPTIONS}

${EXIT}`,
    options: {
      source: { type: "string", multiple: true },
      road: { type: "string", multiple: true },
      vehicle: { type: "string", multiple: true },
      "include-samples": { type: "boolean" },
    },
    formats: FORMATS,
    positionals: 0,
    leavesSamplesOut: true,
    async run({ db }, values, _positionals, format, io, samples) {
      const sources = values.source as string[] | undefined;
      // A sample named by --source is asked for.
      const leftOut = samples.filter((sample) => !sources?.includes(sample));
      const roads = (values.road as string[] | undefined)?.map(canonicalRoadName);
      const vehicles = values.vehicle as (typeof VEHICLES)[number][] | undefined;
      let query = db
        .selectFrom("deaths_by_vehicle")
        .select(RESULT_COLUMNS as ["source", "road_name", "vehicle", "number_deaths", "created_at"])
        .orderBy("source")
        .orderBy("road_name")
        .orderBy("vehicle");
      if (sources?.length) query = query.where("source", "in", sources);
      if (roads?.length) query = query.where("road_name", "in", roads);
      if (vehicles?.length) query = query.where("vehicle", "in", vehicles);
      if (leftOut.length > 0) query = query.where("source", "not in", leftOut);
      const { printRows } = await import("./print-rows.js");
      const printed = await printRows(db, query.compile(), io, format, {
        columns: RESULT_COLUMNS,
        numeric: ["number_deaths"],
      });
      if (leftOut.length > 0) io.stderr(samplesLeftOutNote("results", leftOut));
      if (printed === 0 && sources?.length) {
        io.stderr(await unknownSourcesNote(db, "deaths_by_vehicle", sources, "figures"));
      }
      return 0;
    },
  },
  runs: {
    usage: `Usage: roadtoll runs [--source S] [--format table|json|csv] [database options]

The runs recorded in pipeline_runs, newest first: status, source, when the file was ingested and the run finished,
rows read and rejected, total deaths, whether its snapshot is the source's current one, and where the file came
from (JSON and CSV also carry run_id, sha256, bytes, the object keys, the rejects counted by column and kind, and
the error).

  --source S          only this source (repeatable)
  --format F          table (default), json or csv

${DATABASE_OPTIONS}

${EXIT}`,
    options: { source: { type: "string", multiple: true } },
    formats: FORMATS,
    positionals: 0,
    async run({ db }, values, _positionals, format, io) {
      const sources = values.source as string[] | undefined;
      let query = db
        .selectFrom("pipeline_runs")
        .select((eb) => [
          ...(RUN_COLUMNS.filter((column) => column !== "current") as ["status"]),
          // Live, not the stored flag (which says whether the run became current when it finished): the run's
          // snapshot is the one in deaths_by_vehicle now.
          eb
            .and([
              eb("status", "=", "succeeded"),
              eb.exists(
                eb
                  .selectFrom("deaths_by_vehicle as d")
                  .select("d.source")
                  .whereRef("d.source", "=", "pipeline_runs.source")
                  .whereRef("d.created_at", "=", "pipeline_runs.ingested_at"),
              ),
            ])
            .as("current"),
          "run_id",
          "sha256",
          "bytes",
          "raw_key",
          "clean_key",
          "rejects_key",
          "reject_kinds",
          "rows_accepted",
          "roads",
          "execution",
          "error",
        ])
        .orderBy("ingested_at", "desc")
        .orderBy("finished_at", "desc");
      if (sources?.length) query = query.where("pipeline_runs.source", "in", sources);
      const noteIfEmpty = async (printed: number) => {
        if (printed === 0 && sources?.length) {
          io.stderr(await unknownSourcesNote(db, "pipeline_runs", sources, "runs"));
        }
      };
      const columns =
        format === "table"
          ? RUN_COLUMNS
          : [
              "run_id",
              ...RUN_COLUMNS,
              "rows_accepted",
              "roads",
              "sha256",
              "bytes",
              "raw_key",
              "clean_key",
            ].concat(["rejects_key", "reject_kinds", "execution", "error"]);
      const { printRows } = await import("./print-rows.js");
      await noteIfEmpty(
        await printRows(db, query.compile(), io, format, {
          columns,
          numeric: ["rows_read", "rows_rejected", "total_deaths", "bytes"],
        }),
      );
      return 0;
    },
  },
  forget: {
    usage: `Usage: roadtoll forget SOURCE [--reason TEXT] [database options]

Takes SOURCE's current figures out of deaths_by_vehicle and accidents_by_road_year: they move to the history
tables (nothing is deleted) and a run of status "forgotten" records it in pipeline_runs (roadtoll runs lists it).
A run of SOURCE that read its file before this cannot bring them back; the next run of SOURCE does, reading the
file anew. In the bucket, SOURCE's curated figures are removed and its change-detection record is reset, here
when the bucket is at hand (the embedded S3 under the data directory, or --s3-endpoint), else by the next run's
curated publication (until then, a run of an unchanged file ends "unchanged").

  --reason TEXT       why, kept with the forgotten run (its error column)
  --s3-endpoint URL   the pipeline's bucket is on this S3-compatible server (keys as for roadtoll report)
  --bucket NAME       the pipeline's bucket (default: ${DEFAULT_BUCKET})

${DATABASE_OPTIONS}

Exit code: 0 when the figures were taken out, 1 when SOURCE has none or the database fails, 2 on bad usage.`,
    options: { reason: { type: "string" }, "s3-endpoint": { type: "string" }, bucket: { type: "string" } },
    formats: ["table"],
    positionals: 1,
    writes: true,
    missing: "missing the SOURCE to forget (roadtoll results lists the sources)",
    async run({ db }, values, positionals, _format, io) {
      const source = positionals[0] ?? "";
      const { forgetSource } = await import("../../db/forget-source.js");
      const forgotten = await forgetSource(db, source, { reason: values.reason as string | undefined });
      if (!forgotten) {
        io.stderr(
          `roadtoll forget: ${JSON.stringify(source)} has no current figures (roadtoll results lists the sources)\n`,
        );
        return 1;
      }
      io.stdout(
        `forgot ${source}: its figures of ${forgotten.snapshot.toISOString()} (${forgotten.roads} roads, ` +
          `${forgotten.rows} rows) moved to the history tables; run ${forgotten.runId} records it\n`,
      );
      const bucket = await openCommandBucket(values, io);
      try {
        if (bucket.store) {
          const { withdrawForgotten } = await import("../../pipeline/curated.js");
          await withdrawForgotten(bucket.store, db);
          io.stdout(
            `removed its curated figures and reset its change detection in s3://${bucket.store.bucket}\n`,
          );
        } else {
          io.stderr(
            `roadtoll forget: the bucket was not changed (${bucket.noStore}): the next run's curated publication ` +
              `does it, and until then a run of an unchanged file ends "unchanged"\n`,
          );
        }
      } finally {
        await bucket.close();
      }
      return 0;
    },
  },
  migrate: {
    usage: `Usage: roadtoll migrate [database options]

Creates roadtoll's tables and roles in the database, or brings them up to date, and says which migrations it
applied. The pipeline does this itself; the read commands (results, runs, sql, report) never do, and say so.

${DATABASE_OPTIONS}

${EXIT}`,
    options: {},
    formats: ["table"],
    positionals: 0,
    writes: true,
    async run({ label, migrated }, _values, _positionals, _format, io) {
      io.stdout(
        migrated.length > 0 ? `${label}: applied ${migrated.join(", ")}\n` : `${label}: already up to date\n`,
      );
      return 0;
    },
  },
  sql: sqlCommand(DATABASE_OPTIONS, EXIT),
  report: reportCommand(DATABASE_OPTIONS, EXIT),
};

/**
 * The `roadtoll` entry point: the first argument, when it is not a flag, names a command; otherwise the pipeline
 * runs as it always has (runCli).
 */
export async function runRoadtoll(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  const corrected = swallowedByNpm(argv, io.env, {
    ...PIPELINE_OPTIONS,
    ...SERVE_OPTIONS,
    ...COMMON,
    ...Object.assign({}, ...Object.values(COMMANDS).map((command) => command.options)),
  });
  if (corrected) {
    io.stderr(
      `roadtoll: npm kept flags for itself (those before \`--\`), so this run would go without them; run:\n  ${corrected}\n`,
    );
    return 2;
  }
  // The pipeline and the server load what they need when asked for: a read command starts without them, and
  // `roadtoll --help` with nothing but this module.
  if (argv.length === 1 && (first === "--help" || first === "-h")) {
    await io.stdout(`${USAGE}\n`);
    return 0;
  }
  if (first === undefined || first.startsWith("-")) return (await import("../run.js")).runCli(argv, io);
  if (first === "serve") return (await import("./serve.js")).runServe(rest, io);
  const command = COMMANDS[first];
  if (!command) {
    const match = closest(first, [...Object.keys(COMMANDS), "serve"]);
    io.stderr(
      `roadtoll: unknown command ${JSON.stringify(first)}${match ? `; did you mean ${match}?` : ""}\n\n${COMMANDS_USAGE}\n`,
    );
    return 2;
  }
  return runCommand(first, command, rest, io);
}

async function runCommand(name: string, command: Command, argv: string[], io: CliIo): Promise<number> {
  let values: Values;
  let positionals: string[];
  let format: Format;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: command.positionals > 0,
      options: { ...COMMON, ...command.options },
    }) as { values: Values; positionals: string[] });
    if (values.help) {
      io.stdout(`${command.usage}\n`);
      return 0;
    }
    format = ((values.format as string | undefined) ?? "table") as Format;
    if (!command.formats.includes(format)) {
      throw new UsageError(`--format: expected ${command.formats.join(", ")}, got ${JSON.stringify(format)}`);
    }
    if (name === "sql") {
      const problem = await sqlUsageProblem(values, positionals);
      if (problem) throw new UsageError(problem);
    } else if (positionals.length !== command.positionals) {
      throw new UsageError(
        positionals.length < command.positionals
          ? (command.missing ?? "missing an argument")
          : `unexpected argument ${JSON.stringify(positionals[command.positionals])}` +
              (name === "sql" ? " (quote the whole statement as one argument)" : ""),
      );
    }
    for (const vehicle of (values.vehicle as string[] | undefined) ?? []) {
      if (!(VEHICLES as readonly string[]).includes(vehicle)) {
        throw new UsageError(
          `--vehicle: expected one of ${VEHICLES.join(", ")}, got ${JSON.stringify(vehicle)}`,
        );
      }
    }
  } catch (error) {
    const message = withOptionSuggestion(
      (error as Error).message,
      Object.keys({ ...COMMON, ...command.options }),
    );
    io.stderr(`roadtoll ${name}: ${message}\n\n${command.usage}\n`);
    return 2;
  }
  // The named queries are files: listing them needs no database (and waits for no lock on one).
  if (name === "sql" && values["list-queries"] === true) {
    io.stdout(await listQueries(format));
    return 0;
  }

  let database: CommandDatabase;
  let leftOut: string[] = [];
  try {
    const { openLocalDatabase } = await import("../../local/open-database.js");
    database = await openLocalDatabase({
      dataDir: dataDirPath(io, values["data-dir"] as string | undefined),
      databaseUrl: (values["database-url"] as string | undefined) ?? (io.env.DATABASE_URL || undefined),
      use: command.writes ? "write" : "read",
    });
  } catch (error) {
    const hint = isRoadtollError(error, "DataDirInUseError")
      ? " (PGlite takes one process at a time: run this command when the pipeline has finished, or give both --database-url)"
      : "";
    io.stderr(`roadtoll ${name}: ${describe(error)}${hint}\n`);
    return 1;
  }
  try {
    if (command.leavesSamplesOut && values["include-samples"] !== true) {
      const { sourcesFromFiles } = await import("../../db/sources-from-files.js");
      leftOut = await sourcesFromFiles(database.db, await sampleDigests(io.root));
    }
    return await command.run(database, values, positionals, format, io, leftOut);
  } catch (error) {
    io.stderr(`roadtoll ${name}: ${describe(error)}\n`);
    return 1;
  } finally {
    await database.close();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * What to say when a --source filter matched nothing: which of the sources given have no rows, the closest name
 * that has (a source is spelt as its link is, case included), and the sources there are.
 */
async function unknownSourcesNote(
  db: CommandDatabase["db"],
  table: "deaths_by_vehicle" | "pipeline_runs",
  sources: readonly string[],
  what: string,
): Promise<string> {
  const known = (await db.selectFrom(table).select("source").distinct().orderBy("source").execute()).map(
    (row) => row.source,
  );
  const lines = sources
    .filter((source) => !known.includes(source))
    .map((source) => {
      const match =
        known.find((name) => name.toLowerCase() === source.toLowerCase()) ?? closest(source, known);
      return `no ${what} for source ${JSON.stringify(source)}${match ? `; did you mean ${match}?` : ""}\n`;
    });
  const listed = known.slice(0, 20).join(", ") + (known.length > 20 ? `, and ${known.length - 20} more` : "");
  return `${lines.join("")}sources with ${what}: ${listed || "none yet (run npm start first)"}\n`;
}
