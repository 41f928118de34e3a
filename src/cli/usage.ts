// The pipeline's usage and every command's flags, apart from the parsing (args.ts): `roadtoll --help` and the
// check for flags npm kept load this module and nothing heavier (no zod, no database, no AWS SDK).
import { DEFAULT_DOWNLOAD_MAX_BYTES } from "../defaults.js";
import { DEFAULT_MAX_REJECT_SHARE } from "../pipeline/reject-gate.js";

export const USAGE = `Usage: roadtoll [options]     (npm start -- [options])

Runs the roadtoll state machine (statemachine/pipeline.asl.json) on this machine: an embedded S3 server
(s3rver) and an embedded Postgres (PGlite), the real ingest and deaths handlers.

Commands (roadtoll COMMAND --help describes one):
  results, runs, sql, report   read what runs wrote, without running anything
  forget, migrate              take a source's figures out; create or update the schema
  serve                        the HTTP API on 127.0.0.1: uploads and runs, as deployed in AWS

Links (repeatable, combinable; with none, the bundled samples are served on 127.0.0.1 and used):
  --link URL          a CSV URL (http or https), shown by its file name
  --link NAME=URL     a CSV URL, named (letters, digits, _ and -, as in link.yml)
  --source NAME       a link from link.yml (e.g. Via_Bahia)
  --all               every link in link.yml

Options:
  --verbose           show every state of the state machine in the progress log, not only the tasks
  --json              print the execution output as JSON on stdout (progress goes to stderr)
  --s3-endpoint URL   use this S3-compatible server instead of starting s3rver (keys from $AWS_ACCESS_KEY_ID and
                      $AWS_SECRET_ACCESS_KEY, else the AWS SDK's chain; the bucket is created if missing)
  --database-url URL  use this Postgres instead of PGlite (default: $DATABASE_URL if set)
  --data-dir DIR      where s3rver and PGlite keep their files (default: .roadtoll in the repository)
  --bucket NAME       bucket name (default: roadtoll-local)
  --max-reject-share N
                      fail a link whose rejected rows exceed this share of its rows, 0 to 1 (default:
                      $MAX_REJECT_SHARE if set, else ${DEFAULT_MAX_REJECT_SHARE}); a link with no usable row always fails
  --max-download-bytes N
                      refuse a download larger than N bytes, counted as they arrive (default:
                      $DOWNLOAD_MAX_BYTES if set, else ${DEFAULT_DOWNLOAD_MAX_BYTES}, 1 GiB)
  --allow-duplicates  write a file's figures even when another source's current ones came from the same bytes
                      (the same SHA-256); by default such a link ends "duplicate" and writes nothing, so no
                      death is counted twice in a sum over sources
  -h, --help          this text

Two links with one source name in one run are bad usage. A --link URL that link.yml lists takes its link.yml name.

Exit code: 0 when the execution succeeds, 1 when it fails, 2 on bad usage.`;

/** The one line printed after a usage error, instead of the whole usage text. */
export const USAGE_HINT = "Run `roadtoll --help` (npm start -- --help) for the options.";

export const ENVIRONMENT_OPTIONS = {
  "s3-endpoint": { type: "string" },
  "database-url": { type: "string" },
  "data-dir": { type: "string" },
  bucket: { type: "string" },
  "max-reject-share": { type: "string" },
  "max-download-bytes": { type: "string" },
} as const;

/** `roadtoll serve`'s flags (here, so that reading them loads nothing of the server). */
export const SERVE_OPTIONS = {
  port: { type: "string" },
  "max-runs": { type: "string" },
  "upload-ttl": { type: "string" },
  ...ENVIRONMENT_OPTIONS,
  help: { type: "boolean", short: "h" },
} as const;

export const PIPELINE_OPTIONS = {
  link: { type: "string", multiple: true },
  source: { type: "string", multiple: true },
  all: { type: "boolean" },
  json: { type: "boolean" },
  verbose: { type: "boolean" },
  "allow-duplicates": { type: "boolean" },
  help: { type: "boolean", short: "h" },
  ...ENVIRONMENT_OPTIONS,
} as const;

/** Bad usage: an unknown command or flag, a bad value. Printed as one line with the usage hint, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}
