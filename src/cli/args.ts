import { parseArgs } from "node:util";
import { byteCountSchema, DEFAULT_DOWNLOAD_MAX_BYTES, shareSchema } from "../config.js";
import { RoadtollError } from "../errors.js";
import { DEFAULT_MAX_REJECT_SHARE } from "../pipeline/reject-gate.js";

export interface CliOptions {
  links: string[];
  sources: string[];
  all: boolean;
  json: boolean;
  help: boolean;
  s3Endpoint: string | undefined;
  databaseUrl: string | undefined;
  dataDir: string;
  bucket: string;
  /** Rejected / read above this fails a link's deaths step (TooManyRejectsError). */
  maxRejectShare: number;
  /** Overrides DOWNLOAD_MAX_BYTES when given. */
  maxDownloadBytes: number | undefined;
}

export const USAGE = `Usage: roadtoll [options]     (npm start -- [options])

Runs the roadtoll state machine (statemachine/pipeline.asl.json) on this machine: an embedded S3 server
(s3rver) and an embedded Postgres (PGlite), the real ingest and deaths handlers.

Links (repeatable, combinable; with none, the bundled samples are served on 127.0.0.1 and used):
  --link URL          a CSV URL
  --source NAME       a link from link.yml (e.g. Via_Bahia)
  --all               every link in link.yml

Options:
  --json              print the execution output as JSON on stdout (progress goes to stderr)
  --s3-endpoint URL   use this S3-compatible server instead of starting s3rver (keys from $AWS_ACCESS_KEY_ID and
                      $AWS_SECRET_ACCESS_KEY, else the AWS SDK's chain; the bucket is created if missing)
  --database-url URL  use this Postgres instead of PGlite (default: $DATABASE_URL if set)
  --data-dir DIR      where s3rver and PGlite keep their files (default: .roadtoll)
  --bucket NAME       bucket name (default: roadtoll-local)
  --max-reject-share N
                      fail a link whose rejected rows exceed this share of its rows, 0 to 1 (default:
                      $MAX_REJECT_SHARE if set, else ${DEFAULT_MAX_REJECT_SHARE}); a link with no usable row always fails
  --max-download-bytes N
                      refuse a download larger than N bytes, counted as they arrive (default:
                      $DOWNLOAD_MAX_BYTES if set, else ${DEFAULT_DOWNLOAD_MAX_BYTES}, 1 GiB)
  -h, --help          this text

Exit code: 0 when the execution succeeds, 1 when it fails, 2 on bad usage.`;

export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new RoadtollError("InvalidEventError", (error as Error).message, { cause: error });
  }
  const { values } = parsed;
  return {
    links: values.link ?? [],
    sources: values.source ?? [],
    all: values.all ?? false,
    json: values.json ?? false,
    help: values.help ?? false,
    s3Endpoint: values["s3-endpoint"],
    databaseUrl: values["database-url"] ?? (env.DATABASE_URL || undefined),
    dataDir: values["data-dir"] ?? ".roadtoll",
    bucket: values.bucket ?? "roadtoll-local",
    maxRejectShare: maxRejectShare(values["max-reject-share"], env.MAX_REJECT_SHARE),
    maxDownloadBytes: maxDownloadBytes(values["max-download-bytes"]),
  };
}

function maxDownloadBytes(flag: string | undefined): number | undefined {
  if (flag === undefined) return undefined;
  const result = byteCountSchema.safeParse(flag);
  if (result.success) return result.data;
  throw new RoadtollError(
    "InvalidEventError",
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
  throw new RoadtollError(
    "InvalidEventError",
    `${label}: ${result.error.issues[0]?.message ?? "invalid"}, got ${JSON.stringify(text)}`,
  );
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      link: { type: "string", multiple: true },
      source: { type: "string", multiple: true },
      all: { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
      "s3-endpoint": { type: "string" },
      "database-url": { type: "string" },
      "data-dir": { type: "string" },
      bucket: { type: "string" },
      "max-reject-share": { type: "string" },
      "max-download-bytes": { type: "string" },
    },
  });
}
