import { runRoadtoll } from "../../src/cli/commands/index.js";
import { type CliIo, runCli } from "../../src/cli/run.js";

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
