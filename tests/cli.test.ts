import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCliArgs } from "../src/cli/args.js";
import { runCli } from "../src/cli/run.js";
import { startLocalEnvironment } from "../src/local/environment.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
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
    const output = JSON.parse(stdout) as {
      status: string;
      results: Array<{
        summary: { key: string; rowsRead: number; rowsRejected: number; totalDeaths: number };
      }>;
    };
    expect(output.status).toBe("succeeded");
    const expected = referenceDeaths(await readFile(join(SAMPLES, "amostra_via_sul_bom.csv")));
    // Counts and the key of the full summary, which is in the run's bucket (the table reads it back from there).
    expect(output.results[0]?.summary).toEqual({
      key: expect.stringMatching(/^runs\/[0-9a-f-]{36}\/amostra_via_sul_bom\.json$/),
      rowsRead: expected.accepted + expected.rejectedLines.length,
      rowsRejected: expected.rejectedLines.length,
      totalDeaths: expected.totalDeaths,
    });
  });

  it("exits non-zero and names the failed link when the execution fails", async () => {
    const { code, stdout } = await cli("--link", `${files.baseUrl}/missing.csv`);
    expect(code).toBe(1);
    expect(stdout).toContain("Execution failed: LinkFailed");
    expect(stdout).toContain(`✘ ${files.baseUrl}/missing.csv: DownloadError:`);
  });

  it("names each failed link with its message intact, quotes included", async () => {
    const { code, stdout } = await cli("--source", "Nowhere");
    expect(code).toBe(1);
    expect(stdout).toContain(
      '✘ Nowhere: UnknownSourceError: link.yml, column Nowhere: no link named "Nowhere" (known: ',
    );
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

describe("roadtoll CLI: --max-reject-share", () => {
  it("fails a run over the limit with exit 1, naming TooManyRejectsError, and never says succeeded", async () => {
    // amostra_via_norte has 3 rejects in 404 rows: fine under the default 5%, over a limit of 0.
    const { code, stdout, stderr } = await cli(
      "--max-reject-share",
      "0",
      "--link",
      `${files.baseUrl}/amostra_via_norte.csv`,
    );
    expect(code).toBe(1);
    expect(stdout).toContain("Execution failed: LinkFailed");
    expect(stdout).toMatch(
      /amostra_via_norte\.csv\): TooManyRejectsError: clean\/amostra_via_norte\/[^:]+: 3 of 404 rows rejected \(0\.7%\), more than the 0\.0% allowed \(MAX_REJECT_SHARE=0\)/,
    );
    expect(stdout).not.toMatch(/succeeded/i);
    expect(stderr).not.toMatch(/succeeded/i);
    expect(stderr).toMatch(/execution FAILED in/);
  });

  it("--json on a run over the limit prints the failure, not a result", async () => {
    const { code, stdout } = await cli(
      "--json",
      "--max-reject-share",
      "0.001",
      "--link",
      `${files.baseUrl}/amostra_via_norte.csv`,
    );
    expect(code).toBe(1);
    const output = JSON.parse(stdout) as { status: string; error: string; cause: string };
    expect(output).toMatchObject({ status: "FAILED", error: "LinkFailed" });
    expect(output.cause).toContain('"error":"TooManyRejectsError"');
    expect(output.cause).not.toContain('"status":"succeeded"');
  });

  it("is bad usage (exit 2) outside 0..1 or when not a number, and is listed in --help", async () => {
    for (const value of ["2", "-0.1", "5%", ""]) {
      const bad = await cli(`--max-reject-share=${value}`);
      expect(bad.code, value).toBe(2);
      expect(bad.stderr, value).toContain("--max-reject-share: must be a number from 0 to 1");
      expect(bad.stderr, value).toContain("Usage: roadtoll");
      expect(bad.stdout, value).toBe("");
    }
    expect((await cli("--help")).stdout).toContain("--max-reject-share N");
  });

  it("fails a link larger than --max-download-bytes with DownloadTooLargeError, exit 1", async () => {
    const { code, stdout } = await cli(
      "--json",
      "--max-download-bytes",
      "10000",
      "--link",
      `${files.baseUrl}/amostra_via_norte.csv`,
    );
    expect(code).toBe(1);
    const output = JSON.parse(stdout) as { status: string; error: string; cause: string };
    expect(output).toMatchObject({ status: "FAILED", error: "LinkFailed" });
    expect(output.cause).toContain('"error":"DownloadTooLargeError"');
    expect(output.cause).toContain("limited to 10,000 bytes");
  });

  it("is bad usage (exit 2) for a --max-download-bytes that is not a whole number of bytes", async () => {
    for (const value of ["0", "-1", "1e9", "1GB", ""]) {
      const bad = await cli(`--max-download-bytes=${value}`);
      expect(bad.code, value).toBe(2);
      expect(bad.stderr, value).toContain("--max-download-bytes: must be a whole number of bytes");
    }
    expect((await cli("--help")).stdout).toContain("--max-download-bytes N");
  });

  it("exits with an error, instead of hanging, when the database cannot be reached and the samples are served", async () => {
    // A real process: only it shows whether something (the samples' file server) keeps it alive.
    const started = Date.now();
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(ROOT, "src/cli/main.ts"),
        "--data-dir",
        dataDir,
        "--database-url",
        "postgres://nobody:hunter2-db-secret@127.0.0.1:1/none",
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DATABASE_URL: "" } },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
    clearTimeout(timer);
    expect(signal, stderr).toBeNull();
    expect(code, stderr).not.toBe(0);
    expect(stderr).toMatch(/serving the bundled samples/);
    expect(stderr).toMatch(
      /roadtoll: DatabaseUnavailableError: cannot reach Postgres at 127\.0\.0\.1:1\/none after 3 attempts: connect ECONNREFUSED/,
    );
    expect(stderr).not.toContain("hunter2");
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 70_000);

  it("refuses a second run on a data directory that a run holds, at once, naming the holder", async () => {
    const holder = await startLocalEnvironment({ bucket: "roadtoll-local", dataDir: join(dataDir, "busy") });
    try {
      const started = Date.now();
      let stderr = "";
      const second = runCli(["--data-dir", join(dataDir, "busy")], {
        stdout: () => {},
        stderr: (text) => (stderr += text),
        env: {},
        root: ROOT,
      });
      await expect(second).rejects.toMatchObject({
        name: "DataDirInUseError",
        message: expect.stringContaining(`in use by another roadtoll run (pid ${process.pid})`),
      });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await holder.close();
    }
  });

  it("takes the flag first, then $MAX_REJECT_SHARE, then 0.05", () => {
    expect(parseCliArgs([], {}).maxRejectShare).toBe(0.05);
    expect(parseCliArgs([], { MAX_REJECT_SHARE: "0.2" }).maxRejectShare).toBe(0.2);
    expect(parseCliArgs(["--max-reject-share", "0.5"], { MAX_REJECT_SHARE: "0.2" }).maxRejectShare).toBe(0.5);
    expect(() => parseCliArgs([], { MAX_REJECT_SHARE: "7" })).toThrow(
      /MAX_REJECT_SHARE: must be a number from 0 to 1, e\.g\. 0\.05, got "7"/,
    );
  });
});
