import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { useCliSandbox } from "./support/cli-io.js";
import { referenceDeaths } from "./support/reference.js";

/**
 * `roadtoll forget SOURCE` takes bad figures out: to the history tables, recorded as a run, and out of the bucket's
 * curated zone; the source's next run brings them back from its file.
 */

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SAMPLES = join(ROOT, "samples");
const NORTE = "amostra_via_norte.csv";
const SUL = "amostra_via_sul_bom.csv";

const sandbox = useCliSandbox(ROOT, { serve: SAMPLES });
const { roadtoll, pipeline } = sandbox;

async function json<T>(...argv: string[]): Promise<T> {
  const { code, stdout, stderr } = await roadtoll(...argv, "--format", "json");
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout) as T;
}

const sources = async () =>
  new Set((await json<Array<{ source: string }>>("results", "--include-samples")).map((row) => row.source));

/** The embedded S3 (s3rver) keeps each object as `<key>._S3rver_object` under the data directory's s3/<bucket>/. */
const inBucket = (key: string) =>
  existsSync(join(sandbox.dataDir, "s3", "roadtoll-local", `${key}._S3rver_object`));
const curatedCsv = (source: string) => `curated/deaths_by_vehicle_csv/source=${source}/deaths_by_vehicle.csv`;

beforeAll(async () => {
  for (const [name, file] of [
    ["Norte", NORTE],
    ["Sul", SUL],
  ]) {
    const run = await pipeline("--link", `${name}=${sandbox.baseUrl}/${file}`);
    expect(run.code, run.stderr).toBe(0);
  }
}, 120_000);

describe("roadtoll forget", () => {
  it("moves a source's current figures to history and records a forgotten run", async () => {
    expect(inBucket(curatedCsv("Norte"))).toBe(true);
    const reference = referenceDeaths(await readFile(join(SAMPLES, NORTE)));
    const forget = await roadtoll("forget", "Norte", "--reason", "wrong file");
    expect(forget.code, forget.stderr).toBe(0);
    expect(forget.stdout).toMatch(
      new RegExp(
        `^forgot Norte: its figures of \\S+ \\(${reference.roads.size} roads, ${reference.roads.size * 5} rows\\)`,
      ),
    );
    expect(forget.stdout).toContain("removed its curated figures and reset its change detection");
    expect(inBucket(curatedCsv("Norte"))).toBe(false);
    expect(inBucket(curatedCsv("Sul"))).toBe(true);
    expect(await sources()).toEqual(new Set(["Sul"]));
    // Nothing deleted: the history holds the same figures, each vehicle's as the reference counts them.
    const history = await json<Array<{ vehicle: string; deaths: number }>>(
      "sql",
      "select vehicle, sum(number_deaths)::int as deaths from deaths_by_vehicle_history where source = 'Norte' group by vehicle order by vehicle",
    );
    expect(Object.fromEntries(history.map((row) => [row.vehicle, row.deaths]))).toEqual(reference.byVehicle);
    const accidents = await json<Array<{ n: number }>>(
      "sql",
      "select count(*)::int as n from accidents_by_road_year where source = 'Norte'",
    );
    expect(accidents).toEqual([{ n: 0 }]);
    const runs = await json<Array<{ status: string; current: boolean; error: string | null }>>(
      "runs",
      "--source",
      "Norte",
    );
    expect(runs[0]).toMatchObject({ status: "forgotten", current: false, error: "forgotten: wrong file" });
    expect(runs.every((run) => !run.current)).toBe(true);
  });

  it("refuses a source without current figures (exit 1) and a missing one (exit 2)", async () => {
    const again = await roadtoll("forget", "Norte");
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('"Norte" has no current figures');
    const missing = await roadtoll("forget");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing the SOURCE to forget");
  });

  it("brings the figures back with the source's next run, though its file has not changed", async () => {
    const run = await pipeline("--link", `Norte=${sandbox.baseUrl}/${NORTE}`, "--json");
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { results: Array<{ status: string }> }).results[0]?.status).toBe(
      "succeeded",
    );
    expect(await sources()).toEqual(new Set(["Norte", "Sul"]));
    expect(inBucket(curatedCsv("Norte"))).toBe(true);
  });
});
