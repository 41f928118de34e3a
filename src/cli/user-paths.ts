import { join, resolve } from "node:path";

/** Where the CLI is: the repository (link.yml, samples/, the default data directory) and the user's directory. */
export interface PathContext {
  root: string;
  cwd?: string | undefined;
}

/**
 * A path the user typed resolves against the directory they ran the command in, as any command-line tool's does;
 * `process.cwd()` when the caller gives none.
 */
export function userPath(io: PathContext, given: string): string {
  return resolve(io.cwd ?? process.cwd(), given);
}

/**
 * `--data-dir` as given, else `.roadtoll` in the repository, wherever the command is run from: `npm start` (whose
 * working directory is the repository) and `npx roadtoll results` from elsewhere then read the same data.
 */
export function dataDirPath(io: PathContext, given: string | undefined): string {
  return given === undefined ? join(io.root, ".roadtoll") : userPath(io, given);
}
