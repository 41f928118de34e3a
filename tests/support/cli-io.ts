import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { runRoadtoll } from "../../src/cli/commands/index.js";
import { type CliIo, runCli } from "../../src/cli/run.js";
import { type RunningFileServer, startFileServer } from "../../src/local/file-server.js";
import { openTestDatabase, type TestDatabase } from "./database.js";

/** A CliIo that keeps what a command prints, for tests that run `roadtoll …` in-process. */
export function captureCliIo(root: string) {
  const out = { stdout: "", stderr: "" };
  const io = {
    stdout: (text: string) => {
      out.stdout += text;
    },
    stderr: (text: string) => {
      out.stderr += text;
    },
    env: {},
    root,
  };
  return { out, io };
}

/**
 * `roadtoll <command> …` (`roadtoll`) and the default pipeline run (`pipeline`), in-process, on the test's data dir
 * and, when the suite runs on a real server, its database URL; both read when called, as suites set them up late.
 */
export function cliOnTestDatabase(
  root: string,
  target: () => { dataDir: string; databaseUrl?: string | undefined },
) {
  const databaseArgs = () => {
    const { dataDir, databaseUrl } = target();
    return ["--data-dir", dataDir, ...(databaseUrl ? ["--database-url", databaseUrl] : [])];
  };
  const call = async (main: (argv: readonly string[], io: CliIo) => Promise<number>, argv: string[]) => {
    const { out, io } = captureCliIo(root);
    const code = await main([...argv, ...databaseArgs()], io);
    return { code, ...out };
  };
  return {
    roadtoll: (...argv: string[]) => call(runRoadtoll, argv),
    pipeline: (...argv: string[]) => call(runCli, argv),
  };
}

/**
 * A suite's own data directory (a fresh temporary folder), a file server, and on a real server its own database:
 * set up before the suite's tests and taken down after them. `serve` is the folder served (default: the temporary
 * one, after `prepare` has written into it).
 */
export function useCliSandbox(
  root: string,
  options: { serve?: string; prepare?: (directory: string) => Promise<void> } = {},
) {
  let directory = "";
  let files: RunningFileServer | undefined;
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "roadtoll-cli-"));
    await options.prepare?.(directory);
    files = await startFileServer(options.serve ?? directory);
    if (process.env.DATABASE_URL) database = await openTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await files?.close();
    await database?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });
  const cli = cliOnTestDatabase(root, () => ({
    dataDir: join(directory, "data"),
    databaseUrl: database?.url,
  }));
  return {
    ...cli,
    get directory() {
      return directory;
    },
    get dataDir() {
      return join(directory, "data");
    },
    /** The file server's base URL. */
    get baseUrl() {
      if (!files) throw new Error("the sandbox is not started: use it inside a test or hook");
      return files.baseUrl;
    },
    /** `--database-url URL` when the suite runs on a real server, else nothing. */
    databaseArgs: (): string[] => (database?.url ? ["--database-url", database.url] : []),
  };
}
