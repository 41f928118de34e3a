import { parseArgs } from "node:util";
import { byteCountSchema, roadYearsSchema, shareSchema } from "../config.js";
import { isSourceName, SOURCE_NAME_RULE } from "../contracts/source-name.js";
import { DEFAULT_MAX_REJECT_SHARE } from "../pipeline/reject-gate.js";
import { withOptionSuggestion } from "./suggest.js";
import {
  ENVIRONMENT_OPTIONS,
  PIPELINE_OPTIONS,
  SERVE_OPTIONS,
  USAGE,
  USAGE_HINT,
  UsageError,
} from "./usage.js";

export { ENVIRONMENT_OPTIONS, PIPELINE_OPTIONS, SERVE_OPTIONS, USAGE, USAGE_HINT };

/** A link given with --link: a URL, optionally named (`--link NAME=URL`). */
export interface CliLink {
  url: string;
  source?: string;
}

export interface CliOptions {
  links: CliLink[];
  sources: string[];
  all: boolean;
  json: boolean;
  help: boolean;
  /** Every state of the state machine in the progress log, not only the tasks. */
  verbose: boolean;
  s3Endpoint: string | undefined;
  databaseUrl: string | undefined;
  /** As given; src/cli/user-paths.ts resolves it (undefined: the repository's .roadtoll). */
  dataDir: string | undefined;
  bucket: string;
  /** Rejected / read above this fails a link's deaths step (TooManyRejectsError). */
  maxRejectShare: number;
  /** From $MAX_ROAD_YEARS, as the deaths Lambda reads it; undefined: the default. */
  maxRoadYears: number | undefined;
  /** Overrides DOWNLOAD_MAX_BYTES when given. */
  maxDownloadBytes: number | undefined;
  /** Write a file's figures even when another source's current figures came from the same bytes. */
  allowDuplicates: boolean;
}

/** Bad usage: exit 2, one line. */

export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    // node:util's messages are one readable line, but some add a hint on a second line.
    const message = withOptionSuggestion((error as Error).message, Object.keys(PIPELINE_OPTIONS));
    throw new UsageError(message, { cause: error });
  }
  const { values } = parsed;
  return {
    links: (values.link ?? []).map(cliLink),
    sources: values.source ?? [],
    all: values.all ?? false,
    json: values.json ?? false,
    help: values.help ?? false,
    verbose: values.verbose ?? false,
    s3Endpoint: values["s3-endpoint"],
    databaseUrl: values["database-url"] ?? (env.DATABASE_URL || undefined),
    dataDir: values["data-dir"],
    bucket: values.bucket ?? "roadtoll-local",
    maxRejectShare: maxRejectShare(values["max-reject-share"], env.MAX_REJECT_SHARE),
    maxRoadYears: maxRoadYears(env.MAX_ROAD_YEARS),
    maxDownloadBytes: maxDownloadBytes(values["max-download-bytes"]),
    allowDuplicates: values["allow-duplicates"] ?? false,
  };
}

/** `URL` or `NAME=URL`; the URL must be http(s). A URL's own `=` (in its query) never counts: a name has no `:`. */
export function cliLink(text: string): CliLink {
  const named = /^([^=:/]+)=(.*)$/s.exec(text);
  const source = named?.[1];
  const url = named ? (named[2] ?? "") : text;
  if (source !== undefined && !isSourceName(source)) {
    throw new UsageError(
      `--link ${JSON.stringify(text)}: the name ${JSON.stringify(source)} must be ${SOURCE_NAME_RULE}`,
    );
  }
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw new UsageError(`--link ${JSON.stringify(text)}: not a URL (expected http://… or https://…)`);
  }
  if (parsedUrl.protocol !== "http:" && parsedUrl.protocol !== "https:") {
    throw new UsageError(
      `--link ${JSON.stringify(text)}: only http and https URLs can be downloaded, got ${parsedUrl.protocol}`,
    );
  }
  return source === undefined ? { url } : { url, source };
}

function maxDownloadBytes(flag: string | undefined): number | undefined {
  if (flag === undefined) return undefined;
  const result = byteCountSchema.safeParse(flag);
  if (result.success) return result.data;
  throw new UsageError(
    `--max-download-bytes: ${result.error.issues[0]?.message ?? "invalid"}, got ${JSON.stringify(flag)}`,
  );
}

/** The flag wins over the environment; a bad value is bad usage, like an unknown flag. */
function maxRejectShare(flag: string | undefined, fromEnv: string | undefined): number {
  const [label, text] =
    flag !== undefined ? ["--max-reject-share", flag] : ["MAX_REJECT_SHARE", fromEnv || undefined];
  if (text === undefined) return DEFAULT_MAX_REJECT_SHARE;
  const result = shareSchema.safeParse(text);
  if (result.success) return result.data;
  throw new UsageError(
    `${label}: ${result.error.issues[0]?.message ?? "invalid"}, got ${JSON.stringify(text)}`,
  );
}

function maxRoadYears(fromEnv: string | undefined): number | undefined {
  if (!fromEnv) return undefined;
  const result = roadYearsSchema.safeParse(fromEnv);
  if (result.success) return result.data;
  throw new UsageError(
    `MAX_ROAD_YEARS: ${result.error.issues[0]?.message ?? "invalid"}, got ${JSON.stringify(fromEnv)}`,
  );
}

/** The storage, database and limit flags the pipeline command shares with `roadtoll serve`. */

function parse(argv: readonly string[]) {
  return parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: PIPELINE_OPTIONS });
}
