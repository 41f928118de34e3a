import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { useCliSandbox } from "./support/cli-io.js";
import { referenceDeaths } from "./support/reference.js";

/**
 * The same bytes under two source names would double every figure summed over sources: the second ends
 * "duplicate", names the source that already counts them and writes nothing, unless asked to.
 */

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SAMPLES = join(ROOT, "samples");
const FILE = "amostra_via_norte.csv";

const sandbox = useCliSandbox(ROOT, { serve: SAMPLES });
const { roadtoll, pipeline } = sandbox;

const figures = async (source: string) => {
  const { code, stdout } = await roadtoll("results", "--source", source, "--format", "json");
  expect(code).toBe(0);
  const byVehicle: Record<string, number> = {};
  for (const row of JSON.parse(stdout) as Array<{ vehicle: string; number_deaths: number }>) {
    byVehicle[row.vehicle] = (byVehicle[row.vehicle] ?? 0) + row.number_deaths;
  }
  return byVehicle;
};

beforeAll(async () => {
  const first = await pipeline("--link", `First=${sandbox.baseUrl}/${FILE}`);
  expect(first.code, first.stderr).toBe(0);
}, 120_000);

describe("the same file under another source name", () => {
  it("ends duplicate, says which source counts it, and writes no figure and no run", async () => {
    const second = await pipeline("--link", `Second=${sandbox.baseUrl}/${FILE}`, "--json");
    expect(second.code, second.stderr).toBe(0);
    const output = JSON.parse(second.stdout) as { results: Array<Record<string, unknown>> };
    expect(output.results).toEqual([
      { link: { index: 0, source: "Second" }, status: "duplicate", duplicateOf: "First" },
    ]);
    expect(await figures("Second")).toEqual({});
    expect(await figures("First")).toEqual(referenceDeaths(await readFile(join(SAMPLES, FILE))).byVehicle);
    const runs = await roadtoll("runs", "--format", "json");
    expect((JSON.parse(runs.stdout) as Array<{ source: string }>).map((run) => run.source)).toEqual([
      "First",
    ]);
  });

  it("is said in the text output, after the table", async () => {
    const again = await pipeline("--link", `Third=${sandbox.baseUrl}/${FILE}`);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("Duplicates (not counted again)");
    expect(again.stdout).toMatch(/Third \(.*\): the same file \(SHA-256\) as First's current figures/);
  });

  it("is written all the same with --allow-duplicates", async () => {
    const forced = await pipeline("--link", `Second=${sandbox.baseUrl}/${FILE}`, "--allow-duplicates");
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).not.toContain("Duplicates");
    expect(await figures("Second")).toEqual(await figures("First"));
  });
});
