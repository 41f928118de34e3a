/**
 * The curated zone through the state machine: statemachine/pipeline.asl.json on the local runner, with the real
 * handlers, a real S3 server and database. PublishCurated runs once after every link, whatever the links did; its
 * objects must hold what the database holds, checked against an independent count of the samples; and a run whose
 * publication failed must fail (CuratedPublishFailed), never succeed with curated/ left stale.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { S3Client } from "@aws-sdk/client-s3";
import { parse } from "csv-parse/sync";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDownloader } from "../src/adapters/http-download.js";
import { createS3Client, DEFAULT_S3_MAX_ATTEMPTS, ObjectStore } from "../src/adapters/object-store.js";
import { loadDownloadConfig, loadStorageConfig } from "../src/config.js";
import { createDeathsFunctionHandler } from "../src/handlers/deaths-function.js";
import { createIngestHandler } from "../src/handlers/ingest-handler.js";
import type { CuratedResult } from "../src/handlers/publish-curated-handler.js";
import { LOCAL_CREDENTIALS } from "../src/local/environment.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import {
  deathsFunctionTasks,
  type ExecutionEvent,
  type ExecutionOutcome,
  runStateMachine,
  type TaskHandler,
} from "../src/local/state-machine.js";
import { CURATED_COLUMNS, CURATED_REPORT_KEY, curatedFiguresKey } from "../src/pipeline/curated.js";
import { stateObjectLookup } from "../src/pipeline/source-state.js";
import { openTestDatabase, type TestDatabase } from "./support/database.js";
import { type FaultyS3, startFaultyS3 } from "./support/faulty-s3.js";
import { referenceDeaths, VEHICLE_NAMES } from "./support/reference.js";
import { quickRetry } from "./support/retry.js";
import { startTestStorage, type TestStorage } from "./support/storage.js";

const SAMPLES = fileURLToPath(new URL("../samples/", import.meta.url));

type LinkResult = { link: { index: number; source?: string }; status: string };
type Output = { status: string; results: LinkResult[]; curated: CuratedResult };

let storage: TestStorage;
let database: TestDatabase;
let files: RunningFileServer;
let front: FaultyS3;
let client: S3Client;
/** Every task's store: the S3 server through a front that can refuse requests, as src/lambda/*.ts build it. */
let store: ObjectStore;
let tasks: Record<string, TaskHandler>;
let norte: Buffer;
let sul: Buffer;

beforeAll(async () => {
  [storage, database, files] = await Promise.all([
    startTestStorage(),
    openTestDatabase(),
    startFileServer(SAMPLES),
  ]);
  [norte, sul] = await Promise.all([
    readFile(`${SAMPLES}amostra_via_norte.csv`),
    readFile(`${SAMPLES}amostra_via_sul_bom.csv`),
  ]);
  front = await startFaultyS3(storage.endpoint);
  // The production client and attempts (S3_MAX_ATTEMPTS unset); only the SDK's backoff is 1 ms.
  const config = {
    ...loadStorageConfig({ ROADTOLL_BUCKET: storage.bucket, S3_ENDPOINT: front.endpoint }),
  };
  client = createS3Client(config, LOCAL_CREDENTIALS, {
    retryStrategy: quickRetry(config.maxAttempts ?? DEFAULT_S3_MAX_ATTEMPTS),
  });
  store = new ObjectStore(client, storage.bucket);
  tasks = {
    Ingest: createIngestHandler({
      store,
      download: createDownloader({ ...loadDownloadConfig({}), addressPolicy: "loopback" }),
      links: {},
      lastRun: stateObjectLookup(store),
    }),
    // These tests run the same samples under many source names; tests/duplicates.test.ts covers refusing that.
    ...deathsFunctionTasks(createDeathsFunctionHandler({ store, db: database.db, allowDuplicates: true })),
  };
});

afterEach(() => front.reset());

afterAll(async () => {
  client?.destroy();
  await front?.close();
  await files?.close();
  await database?.close();
  await storage?.close();
});

const run = (input: unknown, events: ExecutionEvent[] = [], bound = tasks) =>
  runStateMachine({ input, tasks: bound, retryIntervalMs: 0, onEvent: (event) => events.push(event) });
const link = (file: string, source: string) => ({ url: `${files.baseUrl}/${file}`, source });

/** road → vehicle → deaths, from the reference count of a sample: what a source's curated files must hold. */
function expectedRoads(sample: Buffer): Record<string, Record<string, number>> {
  return Object.fromEntries(
    [...referenceDeaths(sample).roads].map(([road, deaths]) => [road, { ...deaths }] as const),
  );
}

/** A curated file's rows as road → vehicle → deaths, and the snapshot times they carry. */
function byRoad(rows: Array<Record<string, string | number>>) {
  const roads: Record<string, Record<string, number>> = {};
  for (const row of rows) {
    const road = String(row.road_name);
    roads[road] = { ...roads[road], [String(row.vehicle)]: Number(row.number_deaths) };
  }
  return { roads, createdAt: [...new Set(rows.map((row) => String(row.created_at)))] };
}

async function curatedJson(source: string) {
  const text = (await storage.bytes(curatedFiguresKey(source, "json"))).toString("utf8");
  expect(text.endsWith("\n")).toBe(true);
  const rows = text
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, string | number>);
  for (const row of rows) expect(Object.keys(row)).toEqual([...CURATED_COLUMNS]);
  return byRoad(rows);
}

async function curatedCsv(source: string) {
  const text = (await storage.bytes(curatedFiguresKey(source, "csv"))).toString("utf8");
  return byRoad(parse(text, { columns: true, record_delimiter: "\r\n" }) as Array<Record<string, string>>);
}

/** When the source's current snapshot was ingested: the curated rows' created_at. */
async function currentIngestTime(source: string): Promise<string> {
  const row = await database.db
    .selectFrom("pipeline_runs")
    .select("ingested_at")
    .where("source", "=", source)
    .where("current", "=", true)
    .executeTakeFirstOrThrow();
  return row.ingested_at.toISOString();
}

const entered = (events: ExecutionEvent[], state: string) =>
  events.filter((event) => event.state === state && event.type === "entered").length;

describe(`the curated zone, published by the state machine (database: ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"})`, () => {
  it("publishes curated/ once after the links: each source's JSON and CSV hold the reference figures", async () => {
    const events: ExecutionEvent[] = [];
    const outcome = await run(
      { links: [link("amostra_via_norte.csv", "Norte"), link("amostra_via_sul_bom.csv", "Sul")] },
      events,
    );
    expect(outcome.status).toBe("SUCCEEDED");
    const output = (outcome as { output: Output }).output;
    expect(output.results.map((result) => result.status)).toEqual(["succeeded", "succeeded"]);
    // The report's key and a count: 1 report + 2 files for each of the 2 sources.
    expect(output.curated).toEqual({ report: CURATED_REPORT_KEY, objects: 5 });
    expect(entered(events, "PublishCurated")).toBe(1);
    expect(await storage.keys("curated/")).toEqual(
      [
        CURATED_REPORT_KEY,
        ...["Norte", "Sul"].flatMap((source) => [
          curatedFiguresKey(source, "csv"),
          curatedFiguresKey(source, "json"),
        ]),
      ].sort(),
    );
    for (const [source, sample] of [
      ["Norte", norte],
      ["Sul", sul],
    ] as const) {
      const expected = expectedRoads(sample);
      // Every road, with all five vehicles, zeros included.
      expect(Object.values(expected).every((road) => Object.keys(road).length === VEHICLE_NAMES.length)).toBe(
        true,
      );
      const json = await curatedJson(source);
      expect(json.roads, `${source} JSON`).toEqual(expected);
      expect(json.createdAt).toEqual([await currentIngestTime(source)]);
      expect(await curatedCsv(source), `${source} CSV`).toEqual(json);
    }
    const html = (await storage.bytes(CURATED_REPORT_KEY)).toString("utf8");
    expect(html).toContain("Norte");
    expect(html).toContain("Sul");
    // The reasons come from Norte's rejects object, which the deaths function reads back for the report.
    expect(html).toContain("caminhao: negative count");
  });

  /** S3 answers every curated/ write with InternalError, retries included. */
  const refuseCuratedWrites = () =>
    front.inject({
      operation: "PutObject",
      keyPrefix: "curated/",
      times: 1_000,
      fault: { kind: "InternalError" },
    });

  it("fails the execution with CuratedPublishFailed when S3 refuses curated/, though every link succeeded", async () => {
    refuseCuratedWrites();
    const events: ExecutionEvent[] = [];
    const outcome = await run({ links: [link("amostra_via_sul_bom.csv", "Sul_Again")] }, events);
    expect(outcome).toMatchObject({ status: "FAILED", error: "CuratedPublishFailed" });
    const { cause, results } = outcome as Extract<ExecutionOutcome, { status: "FAILED" }>;
    // The function's error and message, not Lambda's whole error response.
    expect(cause).toMatch(
      new RegExp(
        `^StorageError: curated/\\S+: cannot write s3://${storage.bucket}/curated/\\S+ \\(InternalError: .*; ${DEFAULT_S3_MAX_ATTEMPTS} attempts\\)$`,
      ),
    );
    // The link itself succeeded, and its figures are in the database.
    expect(results).toEqual([
      expect.objectContaining({ status: "succeeded", link: { index: 0, source: "Sul_Again" } }),
    ]);
    expect(await currentIngestTime("Sul_Again")).toBeTypeOf("string");
    // StorageError is transient: the state retried it 3 times, each attempt with the SDK's own attempts.
    expect(events.filter((event) => event.type === "retried").map((event) => event.state)).toEqual([
      "PublishCurated",
      "PublishCurated",
      "PublishCurated",
    ]);
    expect(front.count("PutObject", { keyPrefix: "curated/", fault: "InternalError" })).toBe(
      4 * DEFAULT_S3_MAX_ATTEMPTS,
    );
    expect(front.count("PutObject", { keyPrefix: "curated/", fault: null })).toBe(0);
    expect(await storage.keys("curated/deaths_by_vehicle/source=Sul_Again/")).toEqual([]);
    expect(entered(events, "CuratedPublishFailed")).toBe(1);
    expect(entered(events, "Report")).toBe(0);
  });

  it("heals that zone on the next run, even when every link is unchanged", async () => {
    const events: ExecutionEvent[] = [];
    const outcome = await run({ links: [link("amostra_via_sul_bom.csv", "Sul_Again")] }, events);
    expect(outcome.status).toBe("SUCCEEDED");
    const output = (outcome as { output: Output }).output;
    expect(output.results.map((result) => result.status)).toEqual(["unchanged"]);
    expect(entered(events, "ComputeDeaths")).toBe(0);
    expect(output.curated).toEqual({ report: CURATED_REPORT_KEY, objects: 1 + 2 * 3 });
    const json = await curatedJson("Sul_Again");
    expect(json.roads).toEqual(expectedRoads(sul));
    expect(json.createdAt).toEqual([await currentIngestTime("Sul_Again")]);
    // The sources of earlier runs are published again, from the database.
    expect((await curatedJson("Norte")).roads).toEqual(expectedRoads(norte));
  });

  it("fails with CuratedPublishFailed when the database cannot be read, naming the error, without retrying it", async () => {
    // A database without the pipeline's tables: a permanent failure (DatabaseError), as a revoked grant would be.
    // The report's queries run at once: any of them may be the one that fails.
    const empty = await openTestDatabase({ migrate: false });
    try {
      const events: ExecutionEvent[] = [];
      const outcome = await run({ links: [link("amostra_via_norte.csv", "Norte_Again")] }, events, {
        ...tasks,
        PublishCurated: createDeathsFunctionHandler({ store, db: empty.db }),
      });
      expect(outcome).toMatchObject({ status: "FAILED", error: "CuratedPublishFailed" });
      expect((outcome as { cause: string }).cause).toMatch(
        /^DatabaseError: cannot read the figures to publish under curated\/: relation "(deaths_by_vehicle|accidents_by_road_year|pipeline_runs)" does not exist$/,
      );
      expect((outcome as { results?: LinkResult[] }).results?.map((result) => result.status)).toEqual([
        "succeeded",
      ]);
      expect(events.filter((event) => event.type === "retried")).toEqual([]);
      expect(await storage.keys("curated/deaths_by_vehicle/source=Norte_Again/")).toEqual([]);
    } finally {
      await empty.close();
    }
  });

  it("lists the failed links first when links and the publication both fail (LinkFailed)", async () => {
    refuseCuratedWrites();
    const events: ExecutionEvent[] = [];
    const outcome = await run({ links: [link("missing.csv", "Gone")] }, events);
    expect(outcome).toMatchObject({ status: "FAILED", error: "LinkFailed" });
    expect(JSON.parse((outcome as { cause: string }).cause)).toEqual([
      expect.objectContaining({ status: "failed", error: "DownloadError" }),
    ]);
    // Published (and failed, after its retries) all the same: PublishCurated runs whatever the links did.
    expect(entered(events, "PublishCurated")).toBe(1);
    expect(
      events.filter((event) => event.type === "retried" && event.state === "PublishCurated"),
    ).toHaveLength(3);
    expect(entered(events, "CuratedPublishFailed")).toBe(0);
  });
});
