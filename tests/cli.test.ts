import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/run.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import type { DeathsSummary } from "../src/pipeline/deaths-step.js";
import { openTestDatabase, type TestDatabase } from "./support/database.js";
import { referenceDeaths } from "./support/reference.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SAMPLES = join(ROOT, "samples");

let dataDir: string;
let files: RunningFileServer;
/** With DATABASE_URL the CLI gets its own database on that server; without, it uses PGlite under dataDir. */
let database: TestDatabase | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "roadtoll-cli-"));
  files = await startFileServer(SAMPLES);
  if (process.env.DATABASE_URL) database = await openTestDatabase({ migrate: false });
});

afterAll(async () => {
  await files?.close();
  await database?.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const databaseArgs = database?.url ? ["--database-url", database.url] : [];
  const code = await runCli([...argv, "--data-dir", dataDir, ...databaseArgs], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: {},
    root: ROOT,
  });
  return { code, stdout, stderr };
}

describe("roadtoll CLI", () => {
  it("runs the bundled samples by default and prints the results table", async () => {
    const { code, stdout, stderr } = await cli();
    expect(code).toBe(0);
    expect(stderr).toMatch(/no link given: serving the bundled samples at http:\/\/127\.0\.0\.1:\d+/);
    // Each state as it starts and ends, with timings.
    expect(stderr).toMatch(/▶ \[link 0\] Ingest/);
    expect(stderr).toMatch(/✔ \[link 1\] ComputeDeaths \(\d+\.\d\ds\)/);
    expect(stderr).toMatch(/execution SUCCEEDED in \d+\.\d\ds/);
    const expected = referenceDeaths(await readFile(join(SAMPLES, "amostra_via_norte.csv")));
    const row = stdout.split("\n").find((line) => line.startsWith("amostra_via_norte "));
    expect(row?.trim().split(/\s+/)).toEqual([
      "amostra_via_norte",
      String(expected.accepted + expected.rejectedLines.length),
      String(expected.rejectedLines.length),
      String(expected.roads.size),
      String(expected.totalDeaths),
      ...Object.values(expected.byVehicle).map(String),
    ]);
    expect(stdout).toContain("Rejected rows");
    expect(stdout).toMatch(/line 205, column caminhao: negative count -1/);
  });

  it("--json prints the execution output on stdout and nothing else", async () => {
    const { code, stdout } = await cli("--json", "--link", `${files.baseUrl}/amostra_via_sul_bom.csv`);
    expect(code).toBe(0);
    const output = JSON.parse(stdout) as { status: string; results: Array<{ summary: DeathsSummary }> };
    expect(output.status).toBe("succeeded");
    const expected = referenceDeaths(await readFile(join(SAMPLES, "amostra_via_sul_bom.csv")));
    expect(output.results[0]?.summary.deathsByVehicle).toEqual(expected.byVehicle);
  });

  it("exits non-zero and names the failed link when the execution fails", async () => {
    const { code, stdout } = await cli("--link", `${files.baseUrl}/missing.csv`);
    expect(code).toBe(1);
    expect(stdout).toContain("Execution failed: LinkFailed");
    expect(stdout).toContain(`{"url":"${files.baseUrl}/missing.csv"}: DownloadError:`);
  });

  it("--json on failure prints the error and cause as JSON", async () => {
    const { code, stdout } = await cli("--json", "--link", `${files.baseUrl}/missing.csv`);
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({ status: "FAILED", error: "LinkFailed" });
  });

  it("prints usage for --help and exits 2 on an unknown flag", async () => {
    const help = await cli("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--source NAME");
    const bad = await cli("--nope");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("Unknown option '--nope'");
  });
});
