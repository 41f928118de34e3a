import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import {
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCliArgs } from "../src/cli/args.js";
import { downloadProgress } from "../src/cli/download-progress.js";
import { runCli } from "../src/cli/run.js";
import { renderResults } from "../src/cli/run-summary.js";
import { loadDeathsConfig } from "../src/config.js";
import { startLocalEnvironment } from "../src/local/environment.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import { loadDefinition } from "../src/local/state-machine.js";
import { VALIDATED_DEFINITION_FILE } from "../src/local/validated-definitions.js";
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
    // Each link by its source name (the file's name for a bare URL); only the task states, not the plumbing.
    expect(stderr).toMatch(/▶ \[amostra_via_norte\] Ingest/);
    expect(stderr).toMatch(/✔ \[amostra_via_sul_bom\] ComputeDeaths \(\d+\.\d\ds\)/);
    expect(stderr).not.toMatch(/\[link \d+\]/);
    expect(stderr).not.toMatch(/NormaliseInput|Tally|CheckResults|IsFailure|LinkSucceeded|Report/);
    expect(stderr).not.toContain("✘");
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
    // Then, once, the curated zone from the whole database; the last line says where its report is.
    expect(stderr).toMatch(/✔ PublishCurated \(\d+\.\d\ds\)/);
    expect(stderr.indexOf("▶ PublishCurated")).toBeGreaterThan(stderr.lastIndexOf("ComputeDeaths"));
    const last = stdout.trimEnd().split("\n").at(-1) ?? "";
    expect(last).toMatch(
      /^report: (\/\S+\/report\.html) \(open it in a browser; also s3:\/\/roadtoll-local\/curated\/report\.html\)$/,
    );
    // The file is there, whole, after the run's S3 has stopped.
    const file = /^report: (\S+)/.exec(last)?.[1] ?? "";
    expect(await readFile(file, "utf8")).toMatch(/^<!doctype html>[\s\S]*<\/html>\n?$/i);
    // The definition it validated is remembered in the data directory: the next run skips validating it.
    const definition = JSON.stringify(await loadDefinition());
    const { version } = JSON.parse(
      await readFile(join("node_modules", "aws-local-stepfunctions", "package.json"), "utf8"),
    ) as { version: string };
    expect((await readFile(join(dataDir, VALIDATED_DEFINITION_FILE), "utf8")).trim()).toBe(
      createHash("sha256").update(`${version}\n`).update(definition).digest("hex"),
    );
  });

  it("--json prints the execution output on stdout and nothing else", async () => {
    const { code, stdout } = await cli("--json", "--link", `${files.baseUrl}/amostra_via_sul_bom.csv`);
    expect(code).toBe(0);
    const output = JSON.parse(stdout) as {
      status: string;
      results: Array<{
        summary: { key: string; rowsRead: number; rowsRejected: number; totalDeaths: number };
      }>;
      curated: { report: string; objects: number };
    };
    expect(output.status).toBe("succeeded");
    expect(output.curated).toEqual({ report: "curated/report.html", objects: expect.any(Number) });
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

  it("shows the links that succeeded, and marks the failed one as failed, never with a tick", async () => {
    const { code, stdout, stderr } = await cli(
      "--link",
      `${files.baseUrl}/amostra_via_norte.csv`,
      "--link",
      `Broken_one=${files.baseUrl}/missing.csv`,
    );
    expect(code).toBe(1);
    // The named URL is shown by its name; its failure with ✘ and no ✔ afterwards.
    expect(stderr).toMatch(/✘ \[Broken_one\] Ingest: DownloadError: /);
    expect(stderr).not.toMatch(/✔ \[Broken_one\]/);
    expect(stderr).toMatch(/✔ \[amostra_via_norte\] ComputeDeaths/);
    expect(stderr).not.toMatch(/IngestFailed|RecordFailure|ListFailures|undefined/);
    // The good link's table, then the failures.
    expect(stdout).toMatch(/^amostra_via_norte +404 +3 /m);
    expect(stdout).toContain("Execution failed: LinkFailed");
    expect(stdout).toContain(`✘ Broken_one (${files.baseUrl}/missing.csv): DownloadError:`);
    expect(stdout).not.toContain("undefined");
    expect(stdout.indexOf("Deaths by vehicle")).toBeLessThan(stdout.indexOf("Execution failed"));
  });

  it("--verbose shows every state, the plumbing included", async () => {
    const { code, stderr } = await cli("--verbose", "--link", `${files.baseUrl}/amostra_via_sul_bom.csv`);
    expect(code).toBe(0);
    expect(stderr).toMatch(/✔ NormaliseInput/);
    expect(stderr).toMatch(/✔ \[amostra_via_sul_bom\] LinkSucceeded/);
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
    expect(bad.stderr).toContain("unknown option --nope");
  });
});

describe("roadtoll CLI: bad usage is found before any server starts", () => {
  /** A fresh data directory: it stays empty when nothing started (no s3/ or pglite/ in it). */
  async function usage(...argv: string[]) {
    const dir = await mkdtemp(join(tmpdir(), "roadtoll-usage-"));
    let stdout = "";
    let stderr = "";
    const started = Date.now();
    try {
      const code = await runCli([...argv, "--data-dir", dir], {
        stdout: (text) => {
          stdout += text;
        },
        stderr: (text) => (stderr += text),
        env: {},
        root: ROOT,
      });
      return { code, stdout, stderr, ms: Date.now() - started, left: await readdir(dir) };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it.each([
    [["--link", "notaurl"], '--link "notaurl": not a URL'],
    [["--link", "ftp://example.com/a.csv"], "only http and https URLs can be downloaded"],
    [
      ["--link", "bad name=https://example.com/a.csv"],
      'the name "bad name" must be letters, digits, _ and - (1 to 100)',
    ],
    [["--source", "Nowhere"], '--source "Nowhere": no such link in link.yml (known: Via_'],
    [["--nope"], "unknown option --nope"],
    [["--soruce", "Via_Sul"], "unknown option --soruce; did you mean --source?"],
    [["--json=yes"], "Option '--json' does not take an argument"],
  ])("%j: exit 2, one readable line and a pointer to --help", async (argv, message) => {
    const { code, stdout, stderr, ms, left } = await usage(...argv);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    const lines = stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^roadtoll: /);
    expect(lines[0]).toContain(message);
    expect(lines[1]).toContain("--help");
    expect(stderr).not.toMatch(/[[{]\s*"/); // never a zod issue list
    expect(left).toEqual([]);
    expect(ms).toBeLessThan(3_000);
  });

  it("--link NAME=URL names a URL; a URL's own = in its query is not a name", () => {
    const options = parseCliArgs(
      ["--link", "Via_X=https://example.com/a.csv?x=1", "--link", "https://example.com/b.csv?name=y"],
      {},
    );
    expect(options.links).toEqual([
      { source: "Via_X", url: "https://example.com/a.csv?x=1" },
      { url: "https://example.com/b.csv?name=y" },
    ]);
  });
});

describe("roadtoll CLI: the rejects in the table", () => {
  it('says "… and N more" after the sampled rejects', () => {
    const text = renderResults([
      {
        source: "VIA_X",
        rowsRead: 100,
        rowsRejected: 21,
        roads: 0,
        totalDeaths: 0,
        deathsByVehicle: { automovel: 0, bicicleta: 0, caminhao: 0, moto: 0, onibus: 0 },
        worstRoads: [],
        rejects: {
          bucket: "b",
          key: "rejects/VIA_X/r.csv",
          sample: [1, 2, 3, 4, 5].map((line) => ({ line, reason: "bad" })),
        },
      } as unknown as DeathsSummary,
    ]);
    expect(text).toContain("    line 5: bad\n    … and 16 more (all 21 in the file above)");
  });
});

/** Node on this machine without the Node 22 the tests run on: the system's, if it is older than 22.19. */
function oldNode(): string | undefined {
  for (const candidate of ["/usr/bin/node", "/usr/local/bin/node"]) {
    if (!existsSync(candidate) || candidate === process.execPath) continue;
    const version = spawnSync(candidate, ["-p", "process.versions.node"], { encoding: "utf8" }).stdout.trim();
    const [major = 0, minor = 0] = version.split(".").map(Number);
    if (major > 0 && (major < 22 || (major === 22 && minor < 19))) return candidate;
  }
  return undefined;
}

describe("roadtoll CLI: Node version", () => {
  const node = oldNode();
  it.skipIf(node === undefined)(
    `${node ?? "no Node older than 22.19 on this machine: skipped"}: --help and npm ci's preinstall say which Node is needed, how to get it, and exit 1`,
    () => {
      const entries = [
        [join(ROOT, "bin/roadtoll.mjs"), "--help"],
        [join(ROOT, "node_modules/tsx/dist/cli.mjs"), join(ROOT, "src/cli/main.ts"), "--help"],
        // What `npm ci` runs first (preinstall): npm's own engine check would only warn.
        [join(ROOT, "scripts/check-node.mjs")],
      ];
      for (const args of entries) {
        const result = spawnSync(node as string, args, { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
        expect(result.stderr, args.join(" ")).toMatch(
          /^roadtoll needs Node\.js 22\.19\.0 or newer .*this is Node\.js \d+/,
        );
        expect(result.stderr).not.toContain("TypeError");
        expect(result.stderr).toContain("npx -y -p node@22 npm ci");
        expect(result.stdout).toBe("");
        expect(result.status).toBe(1);
      }
    },
    60_000,
  );
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
      expect(bad.stderr, value).toContain("roadtoll --help");
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

  it("reads $MAX_ROAD_YEARS as the deaths Lambda does, a whole number from 1", () => {
    expect(parseCliArgs([], {}).maxRoadYears).toBeUndefined();
    expect(parseCliArgs([], { MAX_ROAD_YEARS: "5000000" }).maxRoadYears).toBe(5_000_000);
    expect(loadDeathsConfig({ MAX_ROAD_YEARS: "5000000" }).maxRoadYears).toBe(5_000_000);
    for (const bad of ["0", "2.5e6", "-1", "lots"]) {
      expect(() => parseCliArgs([], { MAX_ROAD_YEARS: bad })).toThrow(
        /MAX_ROAD_YEARS: must be a whole number from 1/,
      );
      expect(() => loadDeathsConfig({ MAX_ROAD_YEARS: bad })).toThrow(/MAX_ROAD_YEARS/);
    }
  });
});

describe("roadtoll CLI: download progress", () => {
  const downloader = (chunks: number) => async () => ({
    body: Readable.from(Array.from({ length: chunks }, () => Buffer.alloc(1000))),
    contentLength: undefined,
  });

  it("draws bytes and rate on a terminal, erases the line before a log line and at the end", async () => {
    let clock = 0;
    let out = "";
    const progress = downloadProgress((text) => (out += text), {
      enabled: true,
      intervalMs: 0,
      now: () => (clock += 100),
    });
    const download = progress.wrap(downloader(3), () => "VIA_X");
    const { body } = await download("https://example.com/x.csv");
    let read = 0;
    for await (const chunk of body) {
      read += (chunk as Buffer).length;
      progress.log("a log line");
    }
    expect(read).toBe(3000);
    expect(out).toMatch(/↓ VIA_X 1\.0 KB \([\d.]+ KB\/s\)/);
    expect(out).toMatch(/↓ VIA_X 3\.0 KB/);
    expect(out).toContain("\r\x1b[Ka log line\n");
    expect(out.endsWith("\r\x1b[K")).toBe(true);
  });

  it("draws nothing without a terminal (the tests' and logs' case)", async () => {
    let out = "";
    const progress = downloadProgress((text) => (out += text), { enabled: false });
    const inner = downloader(3);
    expect(progress.wrap(inner, () => "VIA_X")).toBe(inner);
    progress.log("a log line");
    expect(out).toBe("a log line\n");
  });
});

describe("roadtoll CLI: what a command loads", () => {
  it("--help and sql --list-queries load no database, driver, AWS SDK or zod", async () => {
    const dir = await mkdtemp(join(tmpdir(), "roadtoll-loaded-"));
    try {
      // Every module Node resolves, written down by a resolve hook loaded before the CLI.
      const hook = join(dir, "hook.mjs");
      await writeFile(
        hook,
        `import { appendFileSync } from "node:fs";
import { registerHooks } from "node:module";
registerHooks({ resolve(specifier, context, next) {
  const resolved = next(specifier, context);
  appendFileSync(process.env.LOADED_LOG, resolved.url + "\\n");
  return resolved;
} });
`,
      );
      for (const args of [["--help"], ["sql", "--list-queries"], ["results", "--help"]]) {
        const log = join(dir, `${args.join("_")}.log`);
        const result = spawnSync(
          process.execPath,
          ["--import", hook, join(ROOT, "bin/roadtoll.mjs"), ...args],
          {
            cwd: ROOT,
            encoding: "utf8",
            env: { ...process.env, LOADED_LOG: log },
          },
        );
        expect(result.status, result.stderr).toBe(0);
        const loaded = (await readFile(log, "utf8"))
          .split("\n")
          .filter((url) => url.includes("/node_modules/"));
        const heavy = loaded.filter((url) =>
          /\/node_modules\/(kysely|pg|pg-[^/]+|@electric-sql|@aws-sdk|@smithy|zod|undici|s3rver)\//.test(url),
        );
        expect(heavy, args.join(" ")).toEqual([]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("roadtoll CLI: the compiled build", () => {
  it("runs build/ while it is newer than every module under src/, and the sources through tsx once one is edited", async () => {
    // A copy of bin/roadtoll.mjs in a tree of its own, whose two entry points say which of them ran.
    const tree = await mkdtemp(join(tmpdir(), "roadtoll-bin-"));
    try {
      await mkdir(join(tree, "bin"));
      await mkdir(join(tree, "scripts"));
      await copyFile(join(ROOT, "scripts/check-node.mjs"), join(tree, "scripts/check-node.mjs"));
      await mkdir(join(tree, "build/cli"), { recursive: true });
      await mkdir(join(tree, "src/cli"), { recursive: true });
      await copyFile(join(ROOT, "bin/roadtoll.mjs"), join(tree, "bin/roadtoll.mjs"));
      await symlink(join(ROOT, "node_modules"), join(tree, "node_modules"));
      await writeFile(join(tree, "src/cli/main.ts"), 'const from: string = "sources";\nconsole.log(from);\n');
      await writeFile(join(tree, "src/cli/main.test.ts"), "");
      await writeFile(join(tree, "build/cli/main.js"), 'console.log("build");\n');
      const run = () =>
        spawnSync(process.execPath, [join(tree, "bin/roadtoll.mjs")], { encoding: "utf8", timeout: 30_000 });
      const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds));

      expect(run().stdout).toBe("sources\n"); // never built
      await writeFile(join(tree, "build/.built"), "");
      await utimes(join(tree, "src/cli/main.ts"), at(0), at(0));
      await utimes(join(tree, "build/.built"), at(10), at(10));
      expect(run().stdout).toBe("build\n");
      // A test file's edit changes nothing that runs.
      await utimes(join(tree, "src/cli/main.test.ts"), at(20), at(20));
      expect(run().stdout).toBe("build\n");
      await utimes(join(tree, "src/cli/main.ts"), at(20), at(20));
      expect(run().stdout).toBe("sources\n");
    } finally {
      await rm(tree, { recursive: true, force: true });
    }
  }, 60_000);

  it("answers as the sources do (npm install builds it; built here when it is not)", async () => {
    if (!existsSync(join(ROOT, "build/.built"))) {
      spawnSync(process.execPath, [join(ROOT, "scripts/build-cli.mjs")], { cwd: ROOT, timeout: 60_000 });
    }
    const answer = (entry: string[]) =>
      spawnSync(process.execPath, [...entry, "sql", "--list-queries"], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 60_000,
      });
    const built = answer([join(ROOT, "build/cli/main.js")]);
    const sources = answer([join(ROOT, "node_modules/tsx/dist/cli.mjs"), join(ROOT, "src/cli/main.ts")]);
    expect(built.status).toBe(0);
    expect(built.stdout).toContain("worst-roads-per-vehicle");
    expect(built.stdout).toBe(sources.stdout);
  }, 90_000);
});
