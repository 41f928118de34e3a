import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRoadtoll } from "../src/cli/commands/index.js";
import { lockDataDir } from "../src/local/data-dir-lock.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import { captureCliIo, cliOnTestDatabase } from "./support/cli-io.js";
import { openTestDatabase, type TestDatabase } from "./support/database.js";
import { referenceDeaths, VEHICLE_NAMES } from "./support/reference.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SAMPLES = join(ROOT, "samples");

let dataDir: string;
let files: RunningFileServer;
/** With DATABASE_URL the commands get their own database on that server; without, PGlite under dataDir. */
let database: TestDatabase | undefined;
let sources: string[];

interface ResultRow {
  source: string;
  road_name: string;
  vehicle: string;
  number_deaths: number;
  created_at: string;
}

const capture = () => captureCliIo(ROOT);

/** `roadtoll …` as the bin runs it, and the default run, on the test's data dir and database. */
const { roadtoll, pipeline } = cliOnTestDatabase(ROOT, () => ({ dataDir, databaseUrl: database?.url }));

async function expected(source: string) {
  return referenceDeaths(await readFile(join(SAMPLES, `${source}.csv`)));
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "roadtoll-commands-"));
  files = await startFileServer(SAMPLES);
  if (process.env.DATABASE_URL) database = await openTestDatabase({ migrate: false });
  sources = (await readdir(SAMPLES))
    .filter((file) => file.endsWith(".csv"))
    .map((file) => file.replace(/\.csv$/, ""))
    .sort();
  // The real pipeline, twice for one source: the commands must show one snapshot per source, never the sum.
  for (const argv of [[], ["--link", `${files.baseUrl}/amostra_via_sul_bom.csv`]]) {
    const out = await pipeline(...argv);
    expect(out.code, out.stderr + out.stdout).toBe(0);
  }
}, 240_000);

afterAll(async () => {
  await files?.close();
  await database?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe("roadtoll results", () => {
  it("--format json gives the figures an independent computation gives, one snapshot per source", async () => {
    const { code, stdout, stderr } = await roadtoll("results", "--format", "json", "--include-samples");
    expect(code, stderr).toBe(0);
    expect(stderr).toBe("");
    const rows = JSON.parse(stdout) as ResultRow[];
    expect(new Set(rows.map((row) => row.source))).toEqual(new Set(sources));
    for (const source of sources) {
      const reference = await expected(source);
      const ofSource = rows.filter((row) => row.source === source);
      const byRoad = new Map<string, Record<string, number>>();
      for (const row of ofSource) {
        byRoad.set(row.road_name, { ...byRoad.get(row.road_name), [row.vehicle]: row.number_deaths });
      }
      expect(byRoad, source).toEqual(reference.roads);
      for (const row of ofSource) expect(Number.isNaN(Date.parse(row.created_at))).toBe(false);
    }
  });

  it("filters by --source, --vehicle and --road", async () => {
    const source = "amostra_via_norte";
    const reference = await expected(source);
    const bySource = JSON.parse((await roadtoll("results", "--source", source, "--format", "json")).stdout);
    expect(new Set(bySource.map((row: ResultRow) => row.source))).toEqual(new Set([source]));
    expect(bySource).toHaveLength(reference.roads.size * VEHICLE_NAMES.length);

    const moto = JSON.parse(
      (await roadtoll("results", "--source", source, "--vehicle", "moto", "--format", "json")).stdout,
    ) as ResultRow[];
    expect(moto.map((row) => row.vehicle)).toEqual(Array(reference.roads.size).fill("moto"));
    expect(moto.reduce((sum, row) => sum + row.number_deaths, 0)).toBe(reference.byVehicle.moto);

    const [road, figures] = [...reference.roads][0] ?? [];
    const byRoad = JSON.parse(
      (await roadtoll("results", "--source", source, "--road", road ?? "", "--format", "json")).stdout,
    ) as ResultRow[];
    expect(Object.fromEntries(byRoad.map((row) => [row.vehicle, row.number_deaths]))).toEqual(figures);
  });

  it("--format csv parses back (RFC 4180) to the same numbers", async () => {
    const json = JSON.parse(
      (await roadtoll("results", "--format", "json", "--include-samples")).stdout,
    ) as ResultRow[];
    const { code, stdout } = await roadtoll("results", "--format", "csv", "--include-samples");
    expect(code).toBe(0);
    expect(stdout.split("\r\n")[0]).toBe("source,road_name,vehicle,number_deaths,created_at");
    const records = parse(stdout, { columns: true }) as Record<string, string>[];
    expect(records.map((record) => ({ ...record, number_deaths: Number(record.number_deaths) }))).toEqual(
      json,
    );
  });

  it("leaves the bundled samples out unless asked, and says which it left out", async () => {
    for (const format of ["table", "json", "csv"]) {
      const { code, stdout, stderr } = await roadtoll("results", "--format", format);
      expect(code).toBe(0);
      expect(stdout).not.toContain("amostra_");
      expect(stderr).toBe(
        `roadtoll results: left out 2 bundled sample sources (${sources.join(", ")}); --include-samples shows them\n`,
      );
    }
    // Naming one with --source asks for it; the other is still left out.
    const named = await roadtoll("results", "--source", "amostra_via_norte", "--format", "json");
    expect(new Set((JSON.parse(named.stdout) as ResultRow[]).map((row) => row.source))).toEqual(
      new Set(["amostra_via_norte"]),
    );
    expect(named.stderr).toContain(
      "left out 1 bundled sample source (amostra_via_sul_bom); --include-samples shows it",
    );
  });

  it("prints an aligned table by default", async () => {
    const { code, stdout } = await roadtoll("results", "--source", "amostra_via_sul_bom");
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^source\s+road_name\s+vehicle\s+number_deaths\s+created_at$/);
    expect(lines[1]).toMatch(/^-+( {2}-+){4}$/);
    // Every data line has its number right-aligned under the header's number_deaths.
    const end = (lines[0] ?? "").indexOf("number_deaths") + "number_deaths".length;
    const reference = await expected("amostra_via_sul_bom");
    const body = lines.slice(2, -1);
    expect(body).toHaveLength(reference.roads.size * VEHICLE_NAMES.length);
    for (const line of body) expect(line.slice(0, end)).toMatch(/ \d+$/);
    expect(lines.at(-1)).toBe(`(${body.length} rows)`);
  });

  it("says which source a filter matching nothing meant, and which sources there are", async () => {
    const wrongCase = await roadtoll("results", "--source", "AMOSTRA_VIA_NORTE");
    expect(wrongCase.code).toBe(0);
    expect(wrongCase.stdout).toContain("(0 rows)");
    expect(wrongCase.stderr).toContain(
      'no figures for source "AMOSTRA_VIA_NORTE"; did you mean amostra_via_norte?',
    );
    expect(wrongCase.stderr).toMatch(/sources with figures: .*amostra_via_norte/);
    const typo = await roadtoll("runs", "--source", "amostra_via_nrote");
    expect(typo.stderr).toContain('no runs for source "amostra_via_nrote"; did you mean amostra_via_norte?');
    // A filter that matches says nothing more.
    expect((await roadtoll("runs", "--source", "amostra_via_norte")).stderr).toBe("");
  });
});

describe("roadtoll runs", () => {
  it("lists the runs newest first, with their counts", async () => {
    const { code, stdout, stderr } = await roadtoll("runs", "--format", "json");
    expect(code, stderr).toBe(0);
    const runs = JSON.parse(stdout) as Array<Record<string, unknown>>;
    expect(runs).toHaveLength(sources.length + 1);
    const times = runs.map((run) => Date.parse(String(run.ingested_at)));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(runs[0]).toMatchObject({ source: "amostra_via_sul_bom", status: "succeeded", current: true });
    expect(runs.filter((run) => run.source === "amostra_via_sul_bom").map((run) => run.current)).toEqual([
      true,
      false,
    ]);
    const norte = await expected("amostra_via_norte");
    expect(runs.find((run) => run.source === "amostra_via_norte")).toMatchObject({
      rows_read: norte.accepted + norte.rejectedLines.length,
      rows_rejected: norte.rejectedLines.length,
      // By column and kind, as the rejects object has them; they add up to the rows rejected.
      reject_kinds: [
        { column: "caminhao", kind: "negative count", count: 1 },
        { column: "caminhao", kind: "not a whole number", count: 1 },
        { column: "", kind: "wrong number of fields", count: 1 },
      ],
      total_deaths: norte.totalDeaths,
      origin: expect.stringContaining("amostra_via_norte.csv"),
    });

    const table = await roadtoll("runs", "--source", "amostra_via_sul_bom");
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^status\s+source\s+ingested_at\s+finished_at\s+rows_read\s+rows_rejected/);
    expect(table.stdout).toContain("(2 rows)");
  });
});

describe("roadtoll sql", () => {
  it("runs a select", async () => {
    const { code, stdout } = await roadtoll(
      "sql",
      "select count(*)::int as n from deaths_by_vehicle",
      "--format",
      "json",
    );
    expect(code).toBe(0);
    let roads = 0;
    for (const source of sources) roads += (await expected(source)).roads.size;
    expect(JSON.parse(stdout)).toEqual([{ n: roads * VEHICLE_NAMES.length }]);
    const table = await roadtoll("sql", "select count(*) from deaths_by_vehicle");
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^count\n-----\n\s*\d+\n\(1 row\)\n$/);
  });

  it("a plain sum per vehicle equals the independent computation", async () => {
    const { stdout } = await roadtoll(
      "sql",
      "select vehicle, sum(number_deaths)::int as deaths from deaths_by_vehicle group by vehicle order by vehicle",
      "--format",
      "csv",
    );
    const totals = Object.fromEntries(VEHICLE_NAMES.map((name) => [name, 0]));
    for (const source of sources) {
      const reference = await expected(source);
      for (const name of VEHICLE_NAMES) totals[name] = (totals[name] ?? 0) + reference.byVehicle[name];
    }
    const records = parse(stdout, { columns: true }) as Array<{ vehicle: string; deaths: string }>;
    expect(Object.fromEntries(records.map((record) => [record.vehicle, Number(record.deaths)]))).toEqual(
      totals,
    );
  });

  it("refuses writes in the database itself: exit 1, a clear message, the rows still there", async () => {
    const before = (
      await roadtoll("sql", "select count(*)::int as n from deaths_by_vehicle", "--format", "json")
    ).stdout;
    for (const statement of [
      "delete from deaths_by_vehicle",
      "update pipeline_runs set status = 'rejected'",
      "create table sneaky (x int)",
    ]) {
      const refused = await roadtoll("sql", statement);
      expect(refused.code, statement).toBe(1);
      expect(refused.stderr, statement).toMatch(
        /^roadtoll sql: DatabaseError: refused by the database: .*read-only transaction/,
      );
      expect(refused.stdout, statement).toBe("");
    }
    // Ending the read-only transaction first does not help: one statement only.
    const smuggled = await roadtoll("sql", "commit; delete from deaths_by_vehicle");
    expect(smuggled.code).toBe(1);
    expect(smuggled.stderr).toMatch(/cannot insert multiple commands into a prepared statement/);
    expect(
      (await roadtoll("sql", "select count(*)::int as n from deaths_by_vehicle", "--format", "json")).stdout,
    ).toBe(before);
    expect(JSON.parse(before)[0].n).toBeGreaterThan(0);
  });

  it("reports an SQL error with exit 1", async () => {
    const { code, stderr } = await roadtoll("sql", "select nope from deaths_by_vehicle");
    expect(code).toBe(1);
    expect(stderr).toMatch(/^roadtoll sql: DatabaseError: column "nope" does not exist\n$/);
  });
});

describe("roadtoll commands: usage and the data directory", () => {
  it("exits 2 with one line and the usage on bad usage", async () => {
    const cases: Array<[string[], string, string]> = [
      [["nope"], 'roadtoll: unknown command "nope"', "Usage: roadtoll [command]"],
      [["results", "--nope"], "roadtoll results: unknown option --nope", "Usage: roadtoll results"],
      [["result"], 'roadtoll: unknown command "result"; did you mean results?', "Usage: roadtoll [command]"],
      [["sevre"], 'roadtoll: unknown command "sevre"; did you mean serve?', "Usage: roadtoll [command]"],
      [
        ["results", "--soruce", "x"],
        "roadtoll results: unknown option --soruce; did you mean --source?",
        "Usage: roadtoll results",
      ],
      [
        ["results", "--format", "xml"],
        "roadtoll results: --format: expected table, json, csv",
        "Usage: roadtoll results",
      ],
      [
        ["results", "--vehicle", "tank"],
        "roadtoll results: --vehicle: expected one of",
        "Usage: roadtoll results",
      ],
      [["runs", "extra"], "roadtoll runs: ", "Usage: roadtoll runs"],
      [["sql"], "roadtoll sql: missing the SQL statement", 'Usage: roadtoll sql "STATEMENT"'],
      [["sql", "  "], "roadtoll sql: the SQL statement is empty", 'Usage: roadtoll sql "STATEMENT"'],
      [["sql", "select", "1"], "roadtoll sql: unexpected argument", 'Usage: roadtoll sql "STATEMENT"'],
    ];
    for (const [argv, line, usage] of cases) {
      const { out, io } = capture();
      const code = await runRoadtoll(argv, io);
      expect(code, argv.join(" ")).toBe(2);
      expect(out.stderr.split("\n")[0], argv.join(" ")).toContain(line);
      expect(out.stderr, argv.join(" ")).toContain(usage);
      expect(out.stdout, argv.join(" ")).toBe("");
    }
  });

  it("says how to pass the flags `npm start` kept for itself, and runs nothing", async () => {
    const cases: Array<[string[], Record<string, string>, string]> = [
      [[], { npm_config_all: "true", npm_config_json: "true" }, "npm start -- --all --json"],
      [["results"], { npm_config_source: "Via Sul" }, "npm start -- results --source 'Via Sul'"],
      [
        ["--link", "https://x.example/a.csv"],
        { npm_config_data_dir: "/tmp/d" },
        "npm start -- --link https://x.example/a.csv --data-dir /tmp/d",
      ],
    ];
    for (const [argv, config, corrected] of cases) {
      const { out, io } = capture();
      const code = await runRoadtoll(argv, { ...io, env: { npm_lifecycle_event: "start", ...config } });
      expect(code, corrected).toBe(2);
      expect(out.stderr).toContain("npm kept flags for itself");
      expect(out.stderr).toContain(`\n  ${corrected}\n`);
    }
    // Not started by npm start, or the flag given after --: nothing to say.
    const { io } = capture();
    expect(await runRoadtoll(["runs", "--help"], { ...io, env: { npm_config_json: "true" } })).toBe(0);
    expect(
      await runRoadtoll(["--json", "--help"], {
        ...io,
        env: { npm_lifecycle_event: "start", npm_config_json: "true" },
      }),
    ).toBe(0);
  });

  it("--help describes each command and exits 0", async () => {
    for (const [name, flag] of [
      ["results", "--vehicle V"],
      ["runs", "--source S"],
      ["sql", "read-only transaction"],
    ] as const) {
      const { out, io } = capture();
      expect(await runRoadtoll([name, "--help"], io)).toBe(0);
      expect(out.stdout).toContain(flag);
      expect(out.stdout).toContain("--database-url URL");
    }
  });

  it("says so, and exits 1, when a run holds the data directory", async () => {
    const busy = join(dataDir, "busy");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(busy, { recursive: true });
    const lock = lockDataDir(busy);
    try {
      const { out, io } = capture();
      const started = Date.now();
      expect(await runRoadtoll(["results", "--data-dir", busy], io)).toBe(1);
      expect(out.stderr).toMatch(
        new RegExp(
          `^roadtoll results: DataDirInUseError: .*in use by another roadtoll run \\(pid ${process.pid}\\)`,
        ),
      );
      expect(out.stderr).toContain("run this command when the pipeline has finished");
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      lock.release();
    }
  });

  it("refuses a data directory without a database, creating nothing, until roadtoll migrate makes one", async () => {
    const fresh = join(dataDir, "fresh");
    const refused = capture();
    expect(await runRoadtoll(["results", "--data-dir", fresh], refused.io)).toBe(1);
    expect(refused.out.stderr).toBe(
      `roadtoll results: SchemaError: no database in ${join(fresh, "pglite")}: run the pipeline first (npm ` +
        "start), or create an empty one with roadtoll migrate\n",
    );
    expect(existsSync(fresh)).toBe(false);
    const migrate = capture();
    expect(await runRoadtoll(["migrate", "--data-dir", fresh], migrate.io), migrate.out.stderr).toBe(0);
    expect(migrate.out.stdout).toMatch(/: applied 0001-create-deaths-by-vehicle, .*, 0009-reject-kinds\n$/);
    const { out, io } = capture();
    expect(await runRoadtoll(["results", "--format", "json", "--data-dir", fresh], io), out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual([]);
    expect(await readdir(fresh)).not.toContain("roadtoll.lock");
    const again = capture();
    expect(await runRoadtoll(["migrate", "--data-dir", fresh], again.io)).toBe(0);
    expect(again.out.stdout).toMatch(/: already up to date\n$/);
  });
});
