import type { Kysely } from "kysely";
import type { ObjectStore, PendingUpload } from "../adapters/object-store.js";
import type { DeathsEvent } from "../contracts/events.js";
import { publishSnapshot, type RunRecord, recordRejectedRun } from "../db/deaths-repository.js";
import type { Database } from "../db/schema.js";
import { computeDeaths, type DeathsComputation, type Reject } from "../domain/compute-deaths.js";
import type { VehicleDeaths } from "../domain/deaths-aggregator.js";
import { RoadtollError } from "../errors.js";
import { rejectsKey, summaryKey } from "./keys.js";
import { checkRejectShare, DEFAULT_MAX_REJECT_SHARE } from "./reject-gate.js";
import { writeSourceState } from "./source-state.js";

export interface DeathsDeps {
  store: ObjectStore;
  db: Kysely<Database>;
  /**
   * Rejected / read above this fails the step with TooManyRejectsError and writes nothing (default 0.05). The
   * Lambda reads it from MAX_REJECT_SHARE at cold start, the CLI from --max-reject-share.
   */
  maxRejectShare?: number;
  /**
   * Write a file's figures even when another source's current figures came from the same bytes (the same
   * SHA-256). Off by default: the two would be counted twice in every sum over sources (`--allow-duplicates`).
   */
  allowDuplicates?: boolean;
  /**
   * Distinct road-years a file may have before the step fails with TooManyRoadsError, writing nothing (default
   * DEFAULT_MAX_ROAD_YEARS): what bounds the step's memory. The Lambda reads it from MAX_ROAD_YEARS at cold start.
   */
  maxRoadYears?: number | undefined;
  /**
   * The SHA-256 of the bundled sample files (the local runner's): once a real source has figures, the curated
   * publication leaves the sources computed from them out, so that they never stand beside real sources there.
   */
  sampleDigests?: readonly string[] | undefined;
}

export interface WorstRoad {
  road: string;
  deaths: number;
  byVehicle: VehicleDeaths;
}

/**
 * Everything the deaths step knows of one link's run, for a person: written to S3 as JSON (`runs/<run>/<source>.json`,
 * see summaryKey), about 3 KB. Too big to pass through Step Functions by the hundred: the step returns a
 * DeathsResult, which names this object.
 */
export interface DeathsSummary {
  message: string;
  table: "deaths_by_vehicle";
  source: string;
  createdAt: string;
  /** The link, redacted, when the ingest step reported it. */
  url?: string | undefined;
  /** The execution the run belongs to, when the event named one. */
  execution?: string | undefined;
  input: { bucket: string; key: string };
  rowsRead: number;
  rowsAccepted: number;
  rowsRejected: number;
  rejects: { bucket: string; key: string; sample: Reject[] };
  roads: number;
  rowsWritten: number;
  /**
   * Whether these figures are now the source's current ones in deaths_by_vehicle. False only for a run older than
   * the current snapshot that finished late: its figures went to deaths_by_vehicle_history.
   */
  current: boolean;
  /** The snapshot this one replaced as current (now in deaths_by_vehicle_history). */
  replaced: string | null;
  /** The source whose current figures came from the same bytes: nothing was written (see DeathsDeps). */
  duplicateOf?: string;
  /** Deaths in accepted rows, each accident once. */
  totalDeaths: number;
  /** The metric summed over roads: deaths in accidents involving each vehicle type. */
  deathsByVehicle: VehicleDeaths;
  worstRoads: WorstRoad[];
}

/**
 * The deaths step's answer, what Step Functions carries: counts and object keys, a few hundred bytes whatever the
 * file. The full summary (worst roads, reject samples) is the object at `keys.summary`.
 */
export interface DeathsResult {
  message: string;
  source: string;
  createdAt: string;
  current: boolean;
  rowsRead: number;
  rowsAccepted: number;
  rowsRejected: number;
  roads: number;
  rowsWritten: number;
  totalDeaths: number;
  deathsByVehicle: VehicleDeaths;
  bucket: string;
  keys: { summary: string; rejects: string; clean: string };
  /** Present when nothing was written because another source's current figures have the same SHA-256. */
  duplicateOf?: string;
}

/**
 * Reads the clean object back, computes the metric, writes the rejects object and then the table. A file with
 * no data row, or with more rejects than `maxRejectShare` allows, fails after the rejects object is written
 * and before the table is touched (see reject-gate.ts). The rejects object is keyed by run, so a retry
 * overwrites it with the same content; the table write replaces the snapshot in one transaction. Running the
 * step twice therefore leaves exactly what running it once does. Last, the full summary is written to S3 (a retry
 * overwrites it with the same figures) and the step answers with its counts and keys.
 */
export async function runDeathsStep(input: DeathsEvent, deps: DeathsDeps): Promise<DeathsResult> {
  const summary = await computeAndWrite(input, deps);
  const key = summaryKey(input.source, input.runId, input.execution);
  await writeJson(deps.store, key, summary, input.source);
  return {
    message: summary.message,
    source: summary.source,
    createdAt: summary.createdAt,
    current: summary.current,
    rowsRead: summary.rowsRead,
    rowsAccepted: summary.rowsAccepted,
    rowsRejected: summary.rowsRejected,
    roads: summary.roads,
    rowsWritten: summary.rowsWritten,
    totalDeaths: summary.totalDeaths,
    deathsByVehicle: summary.deathsByVehicle,
    ...(summary.duplicateOf === undefined ? {} : { duplicateOf: summary.duplicateOf }),
    bucket: deps.store.bucket,
    keys: { summary: key, rejects: summary.rejects.key, clean: summary.input.key },
  };
}

/** A small JSON object, in one request (an upload whose body fits one part is a single PutObject). */
async function writeJson(store: ObjectStore, key: string, value: unknown, source: string): Promise<void> {
  const upload = store.openUpload(key, "application/json", { source });
  upload.body.end(`${JSON.stringify(value, null, 2)}\n`);
  try {
    await upload.done;
  } catch (error) {
    await upload.abort();
    throw error;
  }
}

/**
 * The step's work and every side effect but the summary object: checks the input, reads the clean object, writes
 * the rejects object, the snapshot in Postgres (or the rejected run) and the source's state object, and returns
 * the summary to store.
 */
async function computeAndWrite(input: DeathsEvent, deps: DeathsDeps): Promise<DeathsSummary> {
  if (input.bucket !== deps.store.bucket) {
    throw new RoadtollError(
      "InvalidEventError",
      `input names bucket ${input.bucket}, but this function is configured for ${deps.store.bucket}`,
      { where: { resource: input.key } },
    );
  }
  const createdAt = new Date(input.ingestedAt);
  const rejectsObject = rejectsKey(input.source, input.runId);
  const body = await deps.store.read(input.key);
  let rejects: PendingUpload | undefined;
  let computation: DeathsComputation;
  try {
    rejects = deps.store.openUpload(rejectsObject, "text/csv; charset=utf-8", { source: input.source });
    [computation] = await Promise.all([
      computeDeaths({
        input: body,
        file: input.key,
        rejects: rejects.body,
        sourceDelimiter: input.delimiter,
        limits: { maxRoadYears: deps.maxRoadYears },
      }),
      rejects.done,
    ]);
  } catch (error) {
    body.destroy();
    await rejects?.abort();
    throw error;
  }
  const run: RunRecord = {
    runId: input.runId,
    origin: input.url,
    sha256: input.sha256,
    bytes: input.bytes,
    sourceEtag: input.etag,
    sourceLastModified: input.lastModified,
    rawKey: input.rawKey,
    cleanKey: input.key,
    rejectsKey: rejectsObject,
    rowsRead: computation.rowsRead,
    rowsAccepted: computation.rowsAccepted,
    rowsRejected: computation.rowsRejected,
    rejectKinds: computation.rejectKinds,
    execution: input.execution,
  };
  // The rejects object is complete by now and stays for review; the figures are not touched, and the run is
  // recorded as rejected, with why.
  try {
    checkRejectShare(computation, {
      file: input.key,
      maxShare: deps.maxRejectShare ?? DEFAULT_MAX_REJECT_SHARE,
      rejectsUri: `s3://${deps.store.bucket}/${rejectsObject}`,
    });
  } catch (rejection) {
    // Best effort: the rejection is the step's answer. With the database down too, reporting a retryable database
    // error instead would have the state machine retry a file that will be refused again.
    await recordRejectedRun(deps.db, input.source, createdAt, run, (rejection as Error).message).catch(
      () => {},
    );
    throw rejection;
  }
  const { rowsWritten, current, replaced, duplicateOf } = await publishSnapshot(
    deps.db,
    { source: input.source, createdAt, roads: computation.roads, roadYears: computation.roadYears },
    run,
    { allowDuplicate: deps.allowDuplicates ?? false },
  );
  // The source's last successful run, for the next ingest's change detection; after the commit, so it never
  // names figures the table does not hold. Only a current run: a late, older one must not wind it back.
  if (current && input.sha256 !== undefined) {
    await writeSourceState(deps.store, {
      source: input.source,
      runId: input.runId,
      ingestedAt: createdAt.toISOString(),
      sha256: input.sha256,
      ...(input.etag === undefined ? {} : { etag: input.etag }),
      ...(input.lastModified === undefined ? {} : { lastModified: input.lastModified }),
      ...(input.url === undefined ? {} : { origin: input.url }),
    });
  }

  const worstRoads = computation.worstRoads.map(({ road, total, byVehicle }) => ({
    road,
    deaths: total,
    byVehicle,
  }));

  return {
    message:
      `${input.source}: ${computation.totalDeaths} deaths on ${computation.roadCount} roads from ` +
      `${computation.rowsAccepted} accidents; ${computation.rowsRejected} rows rejected` +
      (worstRoads[0] ? `; worst road ${worstRoads[0].road} (${worstRoads[0].deaths} deaths)` : "") +
      (duplicateOf !== undefined
        ? `; not written: the same file (SHA-256) as ${duplicateOf}'s current figures, which would count every death twice`
        : current
          ? ""
          : "; older than the source's current snapshot, so kept in deaths_by_vehicle_history"),
    table: "deaths_by_vehicle",
    source: input.source,
    createdAt: createdAt.toISOString(),
    ...(input.url === undefined ? {} : { url: input.url }),
    ...(input.execution === undefined ? {} : { execution: input.execution }),
    input: { bucket: input.bucket, key: input.key },
    rowsRead: computation.rowsRead,
    rowsAccepted: computation.rowsAccepted,
    rowsRejected: computation.rowsRejected,
    rejects: { bucket: deps.store.bucket, key: rejectsObject, sample: computation.sampleRejects },
    roads: computation.roadCount,
    rowsWritten,
    current,
    replaced: replaced ? replaced.toISOString() : null,
    ...(duplicateOf === undefined ? {} : { duplicateOf }),
    totalDeaths: computation.totalDeaths,
    deathsByVehicle: computation.deathsByVehicle,
    worstRoads,
  };
}
