import type { ObjectStore } from "../adapters/object-store.js";

/**
 * What the last successful run of a source saw, kept at `state/<source>.json` by the deaths step once the run's
 * figures are the source's current ones. The ingest step reads it to ask the source whether anything changed
 * (If-None-Match / If-Modified-Since) and, failing that, to compare the file's SHA-256. An S3 object rather than
 * a pipeline_runs query because the ingest function runs outside the VPC, where the database is not reachable;
 * pipeline_runs keeps the same validators for people and reports.
 */
export interface SourceState {
  source: string;
  runId: string;
  /** The run's ingestedAt: since when the source is unchanged, if it still is. */
  ingestedAt: string;
  sha256: string;
  /** The source's validators as it sent them: an HTTP response's, or the landing object's ETag. */
  etag?: string | undefined;
  lastModified?: string | undefined;
  /** The link (redacted) or `s3://bucket/key` the run read. */
  origin?: string | undefined;
}

/** Finds the last successful run of a source, or undefined when there is none (a first run). */
export type LastRunLookup = (source: string) => Promise<SourceState | undefined>;

export const stateKey = (source: string): string => `state/${source}.json`;

/**
 * What replaces a forgotten source's state record: no validators and no digest, so its next run downloads the
 * file and writes figures again, even when the file has not changed. (Written, not deleted: the deaths function
 * may put state objects, not remove them.)
 */
export function forgottenStateRecord(source: string, runId: string): string {
  return `${JSON.stringify({ source, forgottenBy: runId })}\n`;
}

/** Larger than any state record: a bigger object at a state key is not one. */
const MAX_STATE_BYTES = 64 * 1024;

/**
 * The lookup the ingest Lambda uses: the state object in the pipeline's bucket. A missing object is a first run;
 * one that cannot be read as a state record is ignored (the source is then downloaded and compared as new),
 * since a damaged record must not stop a run; S3 failures are StorageError, retried by the state machine.
 */
export function stateObjectLookup(store: ObjectStore): LastRunLookup {
  return async (source) => {
    const text = await store.readText(stateKey(source), { maxBytes: MAX_STATE_BYTES, overCap: "absent" });
    return text === undefined ? undefined : parseState(text, source);
  };
}

function parseState(text: string, source: string): SourceState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const state = value as Partial<SourceState> | null;
  const optional = (field: unknown) => field === undefined || typeof field === "string";
  if (
    state === null ||
    typeof state !== "object" ||
    state.source !== source ||
    typeof state.runId !== "string" ||
    typeof state.ingestedAt !== "string" ||
    Number.isNaN(Date.parse(state.ingestedAt)) ||
    typeof state.sha256 !== "string" ||
    !/^[0-9a-f]{64}$/.test(state.sha256) ||
    !optional(state.etag) ||
    !optional(state.lastModified) ||
    !optional(state.origin)
  ) {
    return undefined;
  }
  return {
    source,
    runId: state.runId,
    ingestedAt: state.ingestedAt,
    sha256: state.sha256,
    ...(state.etag === undefined ? {} : { etag: state.etag }),
    ...(state.lastModified === undefined ? {} : { lastModified: state.lastModified }),
    ...(state.origin === undefined ? {} : { origin: state.origin }),
  };
}

/** Records a successful run as its source's last one (the deaths step, once the run's figures are current). */
export async function writeSourceState(store: ObjectStore, state: SourceState): Promise<void> {
  await store.writeText(stateKey(state.source), `${JSON.stringify(state, null, 2)}\n`, "application/json");
}
