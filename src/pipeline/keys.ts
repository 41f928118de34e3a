import { toSourceName } from "../contracts/source-name.js";
/**
 * Object keys. Every run of a link gets a `runId` from the moment it was ingested; the three objects of one run
 * share it, so they sort by time and list together:
 *
 *   raw/<source>/<runId>.csv      the bytes exactly as downloaded
 *   clean/<source>/<runId>.csv    UTF-8 RFC 4180 CSV, normalised header, + source_line and road_name
 *   rejects/<source>/<runId>.csv  rows the deaths step could not count: line, column, reason, row
 */
export function runIdFor(ingestedAt: Date, nonce: string): string {
  return `${ingestedAt.toISOString().replace(/[-:]/g, "").replace(".", "")}-${nonce}`;
}

export const rawKey = (source: string, runId: string): string => `raw/${source}/${runId}.csv`;
export const cleanKey = (source: string, runId: string): string => `clean/${source}/${runId}.csv`;
export const rejectsKey = (source: string, runId: string): string => `rejects/${source}/${runId}.csv`;

/**
 * A source name usable in a key and a table: from link.yml, or the URL's file name without extension (and
 * without path parameters such as `;jsessionid=…`, which may be secrets).
 */
export function sourceFromUrl(url: string): string {
  const encoded = urlFileName(url) ?? "download";
  let file = encoded;
  try {
    file = decodeURIComponent(encoded);
  } catch {
    // A malformed escape: sanitise the encoded form instead.
  }
  return toSourceName(file.replace(/\.[A-Za-z0-9]+$/, ""), "download");
}

/** The last segment of a URL's path, without its path parameters; undefined for a bare host. */
export function urlFileName(url: string): string | undefined {
  const last = new URL(url).pathname.split("/").filter(Boolean).at(-1);
  const name = last?.split(";")[0];
  return name === "" ? undefined : name;
}

/** Where objects that start a run are put (an S3 event rule watches it): `landing/<source>/<file>` or `landing/<file>`. */
export const LANDING_PREFIX = "landing/";

/**
 * The endings the landing rule (template.yaml's LandingObjectRule, EventBridge `wildcard` patterns, which match
 * case-sensitively) starts a run for; `roadtoll serve` applies the same. tests/infra/landing-rule.test.ts checks
 * the two agree.
 */
export const LANDING_RULE_SUFFIXES = [".csv", ".csv.gz", ".CSV", ".CSV.GZ"] as const;

/** Whether an object created at `key` starts a run, as the landing rule decides. */
export function matchesLandingRule(key: string): boolean {
  return key.startsWith(LANDING_PREFIX) && LANDING_RULE_SUFFIXES.some((suffix) => key.endsWith(suffix));
}

/** The file names a landing object may have: a CSV, or a gzipped one (gzip is recognised by its bytes). */
export const LANDING_FILE = /\.csv(\.gz)?$/i;

/**
 * The source a landing object feeds: the folder under `landing/` (`landing/Via_Sul/2024.csv` → `Via_Sul`), else
 * the file name without `.csv`/`.csv.gz` (`landing/VIA_SUL.csv.gz` → `VIA_SUL`), made safe as sourceFromUrl does.
 */
export function sourceFromKey(key: string): string {
  const parts = key.split("/");
  if (parts.length >= 3) return toSourceName(parts[1] as string, "landing");
  return toSourceName((parts.at(-1) ?? "").replace(LANDING_FILE, ""), "landing");
}

/**
 * Where the deaths step puts a link's full summary: `runs/<run>/<source>.json`, `<run>` being the Step Functions
 * execution's name when the event names an execution (so one execution's summaries list together), else the
 * ingest's runId. The execution id is an ARN: its name is the part after the last `:`, kept to the characters a
 * key segment may safely hold. A source given twice in one execution shares one key: the later summary wins.
 */
export function summaryKey(source: string, runId: string, execution?: string | undefined): string {
  return `runs/${runSegment(execution) ?? runId}/${source}.json`;
}

/** The name of an execution (`arn:aws:states:…:execution:<machine>:<name>`): what the API calls the run's id. */
export function executionName(execution: string): string {
  return execution.split(":").at(-1) ?? execution;
}

function runSegment(execution: string | undefined): string | undefined {
  const name = executionName(execution ?? "")
    .replace(/[^A-Za-z0-9_.-]+/g, "_")
    .slice(0, 128);
  return name === "" || /^\.+$/.test(name) ? undefined : name;
}
