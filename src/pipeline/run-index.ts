import type { ObjectStore } from "../adapters/object-store.js";

/**
 * Which executions worked on a source, newest first, for `GET /runs?source=`: Step Functions can list a state
 * machine's executions but not find them by what they read, and a run started by an upload (the EventBridge rule)
 * or by the schedule does not name its sources in its input. So the ingest step, which knows both, leaves one
 * small object per execution and source when it starts:
 *
 *   run-index/<source>/<13-digit inverted start time>-<execution name>.json
 *
 * S3 lists keys in ascending order, so the inverted time lists the newest first with one ListObjectsV2 and no
 * database. The key depends only on the execution (its name and start time), so a retried ingest step writes the
 * same object again rather than a second one.
 */
export interface RunIndexEntry {
  /** The execution's name: the run's id in the API. */
  id: string;
  source: string;
  /** The execution's start time (ISO 8601). */
  startedAt: string;
  /** The redacted link or `s3://bucket/key` the run reads. */
  origin: string;
}

export const RUN_INDEX_PREFIX = "run-index/";

/** Later than any execution start this index will see (year 2286): the inverted time stays 13 digits. */
const LATEST = 9_999_999_999_999;

export function runIndexKey(source: string, startedAt: string, id: string): string {
  const inverted = String(LATEST - Date.parse(startedAt)).padStart(13, "0");
  return `${RUN_INDEX_PREFIX}${source}/${inverted}-${id}.json`;
}

export async function recordRunStart(store: ObjectStore, entry: RunIndexEntry): Promise<void> {
  await store.writeText(
    runIndexKey(entry.source, entry.startedAt, entry.id),
    `${JSON.stringify(entry)}\n`,
    "application/json",
  );
}

/**
 * The newest `limit` runs of a source, read from the keys alone (no object is fetched). An execution that read
 * the same source twice (two links of one source) is listed once.
 */
export async function listRunsOfSource(
  store: ObjectStore,
  source: string,
  limit: number,
): Promise<Array<Pick<RunIndexEntry, "id" | "source" | "startedAt">>> {
  // One page (listKeys reads a full one anyway); duplicates of one execution are dropped before the cut.
  const keys = await store.listKeys(`${RUN_INDEX_PREFIX}${source}/`, 1000);
  const runs = new Map<string, Pick<RunIndexEntry, "id" | "source" | "startedAt">>();
  for (const key of keys) {
    const match = /\/(\d{13})-(.+)\.json$/.exec(key);
    if (!match?.[1] || !match[2] || runs.has(match[2])) continue;
    runs.set(match[2], {
      id: match[2],
      source,
      startedAt: new Date(LATEST - Number(match[1])).toISOString(),
    });
  }
  return [...runs.values()].slice(0, limit);
}
