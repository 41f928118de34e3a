import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listNamedQueries } from "../src/analytics/named-queries.js";
import { lockDataDir } from "../src/local/data-dir-lock.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import { cliOnTestDatabase } from "./support/cli-io.js";
import { openTestDatabase, type TestDatabase } from "./support/database.js";
import { type ReferenceResult, referenceDeaths, VEHICLE_NAMES } from "./support/reference.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SAMPLE_SOURCES = ["amostra_via_norte", "amostra_via_sul_bom"];
const QUERY_NAMES = [
  "deaths-per-1000-accidents",
  "trend-per-year",
  "vehicle-share-per-source",
  "worst-roads-per-vehicle",
];

/**
 * Several years, which the samples (all 2021) lack, a date that does not read (the row still counts) and a road
 * (BR-101/SC) that amostra_via_sul_bom also publishes, so the per-road queries must add the two sources up.
 */
const MULTI_YEAR = "multi_year";
const MULTI_YEAR_CSV = `data;trecho;automovel;bicicleta;caminhao;moto;onibus;mortos
15/03/2019;BR-101/SC;1;;;1;;2
20/07/2019;BR-101/SC;;;1;;;0
01/01/2020;BR-101/SC;;;;;;1
10/10/2020;BR-470/SC;2;;;;;3
2020-12-31;BR-470/SC;;1;;;;1
sem data;BR-470/SC;;;;;1;2
`;

let dataDir: string;
let fixtures: string;
let files: RunningFileServer;
let database: TestDatabase | undefined;
/** Each loaded source's figures, computed by the tests' own reference from its file. */
const reference = new Map<string, ReferenceResult>();

/** `roadtoll …` as the bin runs it, and the default run, on the test's data dir and database. */
const { roadtoll, pipeline } = cliOnTestDatabase(ROOT, () => ({ dataDir, databaseUrl: database?.url }));

async function query<T>(name: string): Promise<T[]> {
  const { code, stdout, stderr } = await roadtoll(
    "sql",
    "--query",
    name,
    "--format",
    "json",
    "--include-samples",
  );
  expect(code, stderr).toBe(0);
  expect(stderr).toBe("");
  return JSON.parse(stdout) as T[];
}

const round1 = (value: number) => Math.round(value * 10) / 10;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "roadtoll-analytics-"));
  fixtures = await mkdtemp(join(tmpdir(), "roadtoll-analytics-files-"));
  await writeFile(join(fixtures, `${MULTI_YEAR}.csv`), MULTI_YEAR_CSV);
  files = await startFileServer(fixtures);
  if (process.env.DATABASE_URL) database = await openTestDatabase({ migrate: false });
  // The real pipeline: the bundled samples (the default run), then the fixture under its own name.
  for (const argv of [[], ["--link", `${MULTI_YEAR}=${files.baseUrl}/${MULTI_YEAR}.csv`]]) {
    const out = await pipeline(...argv);
    expect(out.code, out.stderr + out.stdout).toBe(0);
  }
  for (const source of SAMPLE_SOURCES) {
    reference.set(source, referenceDeaths(await readFile(join(ROOT, "samples", `${source}.csv`))));
  }
  reference.set(MULTI_YEAR, referenceDeaths(Buffer.from(MULTI_YEAR_CSV)));
}, 240_000);

afterAll(async () => {
  await files?.close();
  await database?.close();
  await rm(dataDir, { recursive: true, force: true });
  await rm(fixtures, { recursive: true, force: true });
});

/** Per road, over every loaded source. */
function sumOverSources<T>(pick: (result: ReferenceResult) => Map<string, T>, add: (into: T, more: T) => T) {
  const total = new Map<string, T>();
  for (const result of reference.values()) {
    for (const [road, value] of pick(result)) {
      const known = total.get(road);
      total.set(road, known === undefined ? value : add(known, value));
    }
  }
  return total;
}

describe(`named queries on the samples (database: ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"})`, () => {
  it("stores the fixture's accidents per road and year as counted by hand", async () => {
    const { code, stdout, stderr } = await roadtoll(
      "sql",
      `select road_name, year, accidents, deaths, deaths_automovel, deaths_bicicleta, deaths_caminhao, deaths_moto,
         deaths_onibus from accidents_by_road_year where source = '${MULTI_YEAR}' order by road_name, year nulls last`,
      "--format",
      "csv",
    );
    expect(code, stderr).toBe(0);
    expect(stdout.split("\r\n")).toEqual([
      "road_name,year,accidents,deaths,deaths_automovel,deaths_bicicleta,deaths_caminhao,deaths_moto,deaths_onibus",
      // 2019: 2 rows; deaths 2 + 0; the first involves automovel and moto (2 each), the second caminhao (0).
      "BR-101/SC,2019,2,2,2,0,0,2,0",
      // 2020: 1 row, 1 death, no vehicle of the five.
      "BR-101/SC,2020,1,1,0,0,0,0,0",
      // 2020 (one dd/mm/yyyy, one yyyy-mm-dd): deaths 3 + 1; automovel in the first (3), bicicleta in the second (1).
      "BR-470/SC,2020,2,4,3,1,0,0,0",
      // "sem data" is no date: the row counts, under no year; 2 deaths, onibus 2.
      "BR-470/SC,,1,2,0,0,0,0,2",
      "",
    ]);
  });

  it("worst-roads-per-vehicle ranks roads by the metric summed over sources, top five (ties kept)", async () => {
    const byRoad = sumOverSources(
      (result) => result.roads,
      (a, b) => Object.fromEntries(VEHICLE_NAMES.map((v) => [v, a[v] + b[v]])) as typeof a,
    );
    const expected = VEHICLE_NAMES.flatMap((vehicle) => {
      const roads = [...byRoad].map(([road, deaths]) => ({ road, deaths: deaths[vehicle] }));
      return roads
        .filter(({ deaths }) => deaths > 0)
        .map(({ road, deaths }) => ({
          vehicle,
          rank: 1 + roads.filter((other) => other.deaths > deaths).length,
          road_name: road,
          deaths,
          sources: [...reference.values()].filter((result) => result.roads.has(road)).length,
        }))
        .filter(({ rank }) => rank <= 5);
    });
    const rows = await query<(typeof expected)[number]>("worst-roads-per-vehicle");
    const key = (row: (typeof expected)[number]) =>
      `${row.vehicle} ${String(row.rank).padStart(3)} ${row.road_name}`;
    expect([...rows].sort((a, b) => (key(a) < key(b) ? -1 : 1))).toEqual(
      expected.sort((a, b) => (key(a) < key(b) ? -1 : 1)),
    );
    expect(rows.map(key).map((k) => k.slice(0, k.lastIndexOf(" ")))).toEqual(
      rows
        .map(key)
        .map((k) => k.slice(0, k.lastIndexOf(" ")))
        .sort(),
    );
    // Two sources publish BR-101/SC: its row adds them up.
    expect(rows.find((row) => row.vehicle === "automovel" && row.road_name === "BR-101/SC")?.sources).toBe(2);
  });

  it("vehicle-share-per-source divides each type's deaths by the source's deaths, each accident once", async () => {
    const expected = [...reference].flatMap(([source, result]) =>
      VEHICLE_NAMES.map((vehicle) => ({
        source,
        vehicle,
        deaths: result.byVehicle[vehicle],
        source_deaths: result.totalDeaths,
        share_pct:
          result.totalDeaths === 0 ? null : round1((100 * result.byVehicle[vehicle]) / result.totalDeaths),
      })),
    );
    const rows = await query<(typeof expected)[number]>("vehicle-share-per-source");
    const key = (row: { source: string; vehicle: string }) => `${row.source} ${row.vehicle}`;
    expect(rows.map(key)).toEqual(expected.map(key).sort());
    expect([...rows].sort((a, b) => (key(a) < key(b) ? -1 : 1))).toEqual(
      expected.sort((a, b) => (key(a) < key(b) ? -1 : 1)),
    );
    // By hand, for the fixture: 2 + 0 + 1 + 3 + 1 + 2 = 9 deaths; automovel 2 + 3 = 5 → 55.6 %.
    expect(rows.find((row) => key(row) === `${MULTI_YEAR} automovel`)).toEqual({
      source: MULTI_YEAR,
      vehicle: "automovel",
      deaths: 5,
      source_deaths: 9,
      share_pct: 55.6,
    });
  });

  it("deaths-per-1000-accidents divides each road's deaths by its accidents, over every source", async () => {
    const byRoad = sumOverSources(
      (result) => result.accidentsByRoad,
      (a, b) => ({ accidents: a.accidents + b.accidents, deaths: a.deaths + b.deaths }),
    );
    const expected = [...byRoad].map(([road, { accidents, deaths }]) => ({
      road_name: road,
      accidents,
      deaths,
      deaths_per_1000_accidents: round1((1000 * deaths) / accidents),
    }));
    const rows = await query<(typeof expected)[number]>("deaths-per-1000-accidents");
    const rates = rows.map((row) => row.deaths_per_1000_accidents);
    expect(rates).toEqual([...rates].sort((a, b) => b - a));
    const byName = (a: { road_name: string }, b: { road_name: string }) =>
      a.road_name < b.road_name ? -1 : 1;
    expect([...rows].sort(byName)).toEqual(expected.sort(byName));
    // The accidents are the accepted rows: summed over roads, those of every run.
    const accepted = [...reference.values()].reduce((sum, result) => sum + result.accepted, 0);
    expect(rows.reduce((sum, row) => sum + row.accidents, 0)).toBe(accepted);
  });

  it("trend-per-year adds every source's accidents up per year of `data`, the unknown year last", async () => {
    const years = new Map<
      number | null,
      { sources: number; accidents: number; deaths: number; byVehicle: number[] }
    >();
    for (const result of reference.values()) {
      for (const [year, figures] of result.years) {
        const known = years.get(year) ?? { sources: 0, accidents: 0, deaths: 0, byVehicle: [0, 0, 0, 0, 0] };
        years.set(year, {
          sources: known.sources + 1,
          accidents: known.accidents + figures.accidents,
          deaths: known.deaths + figures.deaths,
          byVehicle: VEHICLE_NAMES.map(
            (vehicle, v) => (known.byVehicle[v] ?? 0) + figures.byVehicle[vehicle],
          ),
        });
      }
    }
    const expected = [...years]
      .sort(([a], [b]) => (a ?? 99_999) - (b ?? 99_999))
      .map(([year, { sources, accidents, deaths, byVehicle }]) => ({
        year,
        sources,
        accidents,
        deaths,
        deaths_per_1000_accidents: round1((1000 * deaths) / accidents),
        ...Object.fromEntries(VEHICLE_NAMES.map((vehicle, v) => [vehicle, byVehicle[v]])),
      }));
    const rows = await query<{ year: number | null }>("trend-per-year");
    expect(rows).toEqual(expected);
    // The fixture's years by hand: 2019 and 2020 are its own; 2021 is the samples'; null is its "sem data" row.
    expect(rows.map((row) => row.year)).toEqual([2019, 2020, 2021, null]);
    expect(rows[0]).toMatchObject({ sources: 1, accidents: 2, deaths: 2, automovel: 2, moto: 2 });
  });

  it("leaves the bundled samples out of every named query unless asked, and says so", async () => {
    const fixture = reference.get(MULTI_YEAR);
    for (const name of QUERY_NAMES) {
      const { code, stdout, stderr } = await roadtoll("sql", "--query", name, "--format", "json");
      expect(code, stderr).toBe(0);
      expect(stdout, name).not.toContain("amostra_");
      expect(stderr, name).toBe(
        "roadtoll sql: left out 2 bundled sample sources (amostra_via_norte, amostra_via_sul_bom); " +
          "--include-samples shows them\n",
      );
    }
    // trend-per-year is then the fixture's own years, as the reference counts them.
    const { stdout } = await roadtoll("sql", "--query", "trend-per-year", "--format", "json");
    const rows = JSON.parse(stdout) as Array<{ year: number | null; accidents: number; deaths: number }>;
    expect(rows.map((row) => [row.year, row.accidents, row.deaths])).toEqual(
      [...(fixture?.years ?? [])]
        .sort(([a], [b]) => (a ?? 99_999) - (b ?? 99_999))
        .map(([year, figures]) => [year, figures.accidents, figures.deaths]),
    );
    // A statement of one's own sees every table as it is.
    const own = await roadtoll(
      "sql",
      "select count(distinct source)::int as n from deaths_by_vehicle",
      "--format",
      "json",
    );
    expect(JSON.parse(own.stdout)).toEqual([{ n: 3 }]);
    expect(own.stderr).toBe("");
  });
});

describe("roadtoll sql --query and --list-queries", () => {
  it("lists every named query with its summary, without opening the database", async () => {
    // A running pipeline holds the data directory; listing still works, as it reads only the query files.
    const lock = lockDataDir(dataDir);
    try {
      const { code, stdout, stderr } = await roadtoll("sql", "--list-queries", "--format", "json");
      expect(code, stderr).toBe(0);
      const listed = JSON.parse(stdout) as { name: string; summary: string }[];
      expect(listed.map((query) => query.name)).toEqual(QUERY_NAMES);
      for (const { summary } of listed) expect(summary).toMatch(/^[A-Z].{10,100}\.$/);
    } finally {
      lock.release();
    }
  });

  it("keeps a description comment at the top of every query file", async () => {
    for (const query of await listNamedQueries()) {
      expect(query.sql.startsWith("-- "), query.name).toBe(true);
      expect(query.description.length, query.name).toBeGreaterThan(query.summary.length);
      expect(query.sql, query.name).not.toMatch(/;\s*$/);
    }
  });

  it.each([
    [["--query", "nope"], `--query: no query named "nope"; the named queries are ${QUERY_NAMES.join(", ")}`],
    [["select 1", "--query", "trend-per-year"], "give a statement or --query NAME, not both"],
    [["select 1", "--list-queries"], "give a statement, --list-queries or --query NAME, not both"],
    [["--query", "trend-per-year", "--list-queries"], "give --query NAME or --list-queries, not both"],
    // Followed by the test's --data-dir, which parseArgs will not take as the name.
    [["--query"], "Option '--query' argument is ambiguous."],
  ])("exits 2 on %j, with one line saying why, then the usage", async (argv, message) => {
    const { code, stdout, stderr } = await roadtoll("sql", ...argv);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.split("\n")[0]).toBe(`roadtoll sql: ${message}`);
    expect(stderr).toContain("roadtoll sql --query NAME");
  });

  it("describes --query and --list-queries in its usage", async () => {
    const { code, stdout } = await roadtoll("sql", "--help");
    expect(code).toBe(0);
    expect(stdout).toMatch(/--query NAME .*named query/);
    expect(stdout).toMatch(/--list-queries .*needs no database/);
  });

  it("finds the query files from any working directory (the bin, run from elsewhere)", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, "bin", "roadtoll.mjs"), "sql", "--list-queries", "--format", "csv"],
      { cwd: tmpdir() },
    );
    expect(stdout.split("\r\n")[0]).toBe("name,summary");
    expect(stdout).toContain("trend-per-year,");
  });
});
