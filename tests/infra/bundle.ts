import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";

/** Repository root. */
export const root = resolve(import.meta.dirname, "../..");

/** Splits a shell command line into words, honouring quotes (enough for a Dockerfile RUN line). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let current = "";
  let quote: '"' | "'" | undefined;
  let started = false;
  for (let i = 0; i < line.length; i += 1) {
    const char = line[i] as string;
    if (quote) {
      if (char === quote) quote = undefined;
      else if (char === "\\" && quote === '"' && i + 1 < line.length) current += line[++i];
      else current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      started = true;
    } else if (/\s/.test(char)) {
      if (started) words.push(current);
      current = "";
      started = false;
    } else {
      current += char;
      started = true;
    }
  }
  if (quote) throw new Error(`unterminated quote in: ${line}`);
  if (started) words.push(current);
  return words;
}

/** The one Dockerfile of every function's image; the build argument FUNCTION names the function. */
export const DOCKERFILE = "images/Dockerfile";

/** The Dockerfile as the builder reads it for `fn`: `$FUNCTION` and `${FUNCTION}` replaced by its name. */
function dockerfileFor(fn: string): string {
  return readFileSync(join(root, DOCKERFILE), "utf8").replace(/\$\{FUNCTION\}|\$FUNCTION\b/g, fn);
}

/** The command of the Dockerfile's one `RUN node scripts/bundle-lambda.ts …` line, built for `fn`. */
export function dockerfileBundleCommand(fn: string): string[] {
  const runLines = dockerfileFor(fn)
    .split("\n")
    .filter((line) => line.startsWith("RUN node scripts/bundle-lambda.ts "));
  if (runLines.length !== 1) {
    throw new Error(`${DOCKERFILE} must have exactly one "RUN node scripts/bundle-lambda.ts" line`);
  }
  return shellWords((runLines[0] as string).slice("RUN ".length));
}

/**
 * Bundles a function exactly as its Dockerfile does (the same script, run by Node), only writing the bundle into
 * `outDir`; returns the bundle's path. With `metafile`, esbuild's metafile lands beside it as index.mjs.meta.json.
 */
export function bundleLikeDockerfile(
  fn: string,
  outDir: string,
  options: { metafile?: boolean } = {},
): string {
  const [, script, ...args] = dockerfileBundleCommand(fn);
  execFileSync(
    process.execPath,
    [script as string, "--outdir", outDir, ...(options.metafile ? ["--metafile"] : []), ...args],
    { cwd: root, stdio: "pipe" },
  );
  return join(outDir, fn, "index.mjs");
}

/**
 * What the Dockerfile's final stage adds to the Lambda base image for `fn`: the names of the files it copies from
 * the build stage's dist/<fn>/ into LAMBDA_TASK_ROOT, and its `ENV KEY=VALUE` settings.
 */
export function dockerfileFinalStage(fn: string): { fromBuild: string[]; env: Record<string, string> } {
  const dockerfile = dockerfileFor(fn);
  const lines = dockerfile.slice(dockerfile.lastIndexOf("\nFROM ")).split("\n");
  const fromBuild: string[] = [];
  const env: Record<string, string> = {};
  for (const line of lines) {
    if (line.startsWith("COPY --from=build ")) {
      for (const source of shellWords(line).slice(2, -1)) {
        if (!source.startsWith(`/build/dist/${fn}/`))
          throw new Error(`${DOCKERFILE} copies ${source}, outside dist/${fn}/`);
        fromBuild.push(basename(source));
      }
    } else if (line.startsWith("ENV ")) {
      for (const word of shellWords(line).slice(1)) {
        const at = word.indexOf("=");
        if (at < 1) throw new Error(`${DOCKERFILE}: only ENV KEY=VALUE is supported: ${line}`);
        env[word.slice(0, at)] = word.slice(at + 1);
      }
    }
  }
  return { fromBuild, env };
}

/**
 * Builds `fn` like its Dockerfile into `outDir`, then lays out what the image's LAMBDA_TASK_ROOT would hold from
 * the build stage (the bundle and whatever else the final stage copies, e.g. its source map) in a folder of its
 * own; returns that folder and the image's ENV.
 */
export function taskRootLikeImage(
  fn: string,
  outDir: string,
): { taskRoot: string; env: Record<string, string> } {
  const bundle = bundleLikeDockerfile(fn, outDir);
  const { fromBuild, env } = dockerfileFinalStage(fn);
  const taskRoot = join(outDir, `${fn}-task-root`);
  mkdirSync(taskRoot, { recursive: true });
  for (const name of fromBuild) copyFileSync(join(bundle, "..", name), join(taskRoot, name));
  return { taskRoot, env };
}
