import { once } from "node:events";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createDownloader } from "../src/adapters/http-download.js";
import {
  createS3Client,
  DEFAULT_S3_MAX_ATTEMPTS,
  ObjectStore,
  UPLOAD_PART_BYTES,
} from "../src/adapters/object-store.js";
import { loadDownloadConfig, loadStorageConfig } from "../src/config.js";
import type { IngestResult } from "../src/contracts/events.js";
import { createDeathsHandler } from "../src/handlers/deaths-handler.js";
import { createIngestHandler } from "../src/handlers/ingest-handler.js";
import { LOCAL_CREDENTIALS } from "../src/local/environment.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import { currentRows, openTestDatabase, type TestDatabase } from "./support/database.js";
import { type FaultRule, type FaultyS3, type S3Operation, startFaultyS3 } from "./support/faulty-s3.js";
import { referenceDeaths, VEHICLE_NAMES } from "./support/reference.js";
import { quickRetry } from "./support/retry.js";
import { startTestStorage, type TestStorage, testS3Backend } from "./support/storage.js";

// The real S3 client, ObjectStore and both steps, talking to the test S3 server (s3rver, or moto_server with
// ROADTOLL_TEST_S3=moto) through a front that answers some requests
// with S3's 500 InternalError or 503 SlowDown, or cuts the connection. The client is built by createS3Client from
// loadStorageConfig, so the attempts are the production default (S3_MAX_ATTEMPTS unset); only the SDK's backoff
// is replaced, by a fixed 1 ms, so that the retries take no time.

const SAMPLES = fileURLToPath(new URL("../samples/", import.meta.url));
const BUCKET = "faults";
const PART = UPLOAD_PART_BYTES;
const BACKEND = testS3Backend();

let directory: string;
let storage: TestStorage;
let front: FaultyS3;
let files: RunningFileServer;
let database: TestDatabase;
/** What the fault-free client sees: for checking results without going through the front's rules. */
let direct: { s3: S3Client; store: ObjectStore };
let sample: Buffer;
let big: Buffer;
const clients: S3Client[] = [];

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "roadtoll-faults-"));
  sample = await readFile(`${SAMPLES}amostra_via_norte.csv`);
  // Over two parts, so that both the raw and the clean object are multipart uploads of 2 parts or more.
  const newline = sample.indexOf(0x0a) + 1;
  const rows = sample.subarray(newline);
  big = Buffer.concat([
    sample.subarray(0, newline),
    ...Array(Math.ceil((PART + 1) / rows.length)).fill(rows),
  ]);
  const served = join(directory, "files");
  await mkdir(served);
  await writeFile(join(served, "big.csv"), big);
  await writeFile(join(served, "norte.csv"), sample);
  [storage, files, database] = await Promise.all([
    startTestStorage(BUCKET),
    startFileServer(served),
    openTestDatabase(),
  ]);
  front = await startFaultyS3(storage.endpoint);
  direct = { s3: storage.s3, store: storage.store };
});

afterEach(() => {
  front.reset();
  for (const client of clients.splice(0)) client.destroy();
});

afterAll(async () => {
  await front?.close();
  await files?.close();
  await database?.close();
  await storage?.close();
  await rm(directory, { recursive: true, force: true });
});

/**
 * Both handlers on a new client through the front (a new one per test: the SDK's retry quota is per client), as
 * src/lambda/*.ts build them from the environment.
 */
function storeThroughFront(env: NodeJS.ProcessEnv = {}): ObjectStore {
  const config = {
    ...loadStorageConfig({ ...env, ROADTOLL_BUCKET: BUCKET, S3_ENDPOINT: front.endpoint }),
  };
  const s3 = createS3Client(config, LOCAL_CREDENTIALS, {
    retryStrategy: quickRetry(config.maxAttempts ?? DEFAULT_S3_MAX_ATTEMPTS),
  });
  clients.push(s3);
  return new ObjectStore(s3, BUCKET);
}

function pipelineThroughFront(env: NodeJS.ProcessEnv = {}) {
  const store = storeThroughFront(env);
  return {
    ingest: createIngestHandler({
      store,
      download: createDownloader({ ...loadDownloadConfig({}), addressPolicy: "loopback" }),
      links: {},
    }),
    // The same sample under many source names; tests/duplicates.test.ts covers refusing that.
    deaths: createDeathsHandler({ store, db: database.db, allowDuplicates: true }),
  };
}

/** Writes `size` bytes to an upload's body as fast as it takes them, until done or destroyed. */
async function feed(body: Writable, size: number): Promise<void> {
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  for (let written = 0; written < size && !body.destroyed; written += chunk.length) {
    if (!body.write(chunk)) await Promise.race([once(body, "drain"), once(body, "close")]).catch(() => {});
  }
  if (!body.destroyed) body.end();
}

async function bytes(key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await direct.store.read(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const keys = (prefix: string) => storage.keys(prefix);

/** Multipart uploads the server still holds parts for. */
const pendingUploads = () => storage.pendingUploads();

const parts = (size: number) => Math.ceil(size / PART);

const tableRows = (source: string) => currentRows(database.db, source);

/** The figures an independent computation finds in the sample, as the table and the summary must show them. */
async function expectSampleFigures(
  source: string,
  summary: { totalDeaths: number; deathsByVehicle: unknown },
) {
  const expected = referenceDeaths(sample);
  expect(summary.totalDeaths).toBe(expected.totalDeaths);
  expect(summary.deathsByVehicle).toEqual(expected.byVehicle);
  const rows = await tableRows(source);
  expect(rows).toHaveLength(expected.roads.size * VEHICLE_NAMES.length);
  for (const row of rows) expect(row.number_deaths).toBe(expected.roads.get(row.road_name)?.[row.vehicle]);
}

describe(`S3 (${BACKEND}) answering 500 or 503 SlowDown, or resetting, a few times: the SDK retries and the step succeeds`, () => {
  it("multipart uploads: CreateMultipartUpload, UploadPart and CompleteMultipartUpload", async () => {
    const { ingest } = pipelineThroughFront();
    const clean = await ingest({ url: `${files.baseUrl}/big.csv`, source: "Calm" });
    const expectedClean = await bytes(clean.key);
    front.reset();

    const rules: FaultRule[] = [
      { operation: "CreateMultipartUpload", times: 2, fault: { kind: "SlowDown" } },
      { operation: "UploadPart", times: 2, fault: { kind: "InternalError" } },
      { operation: "UploadPart", times: 1, fault: { kind: "SlowDown" } },
      { operation: "UploadPart", times: 1, fault: { kind: "reset" } },
      { operation: "CompleteMultipartUpload", times: 1, fault: { kind: "InternalError" } },
      { operation: "CompleteMultipartUpload", times: 1, fault: { kind: "SlowDown" } },
    ];
    for (const rule of rules) front.inject(rule);
    const result = await pipelineThroughFront().ingest({ url: `${files.baseUrl}/big.csv`, source: "Stormy" });

    expect(result.bytes).toBe(big.length);
    expect((await bytes(result.rawKey)).equals(big)).toBe(true);
    expect((await bytes(result.key)).equals(expectedClean)).toBe(true);
    // The retries happened, as many as the faults, and each object was completed once.
    expect(front.count("CreateMultipartUpload", { fault: "SlowDown" })).toBe(2);
    expect(front.count("CreateMultipartUpload", { fault: null })).toBe(2);
    expect(front.count("UploadPart", { fault: "InternalError" })).toBe(2);
    expect(front.count("UploadPart", { fault: "SlowDown" })).toBe(1);
    expect(front.count("UploadPart", { fault: "reset" })).toBe(1);
    const partCount = parts(big.length) + parts(expectedClean.length);
    expect(partCount).toBeGreaterThanOrEqual(4);
    expect(front.count("UploadPart", { fault: null })).toBe(partCount);
    expect(front.count("CompleteMultipartUpload", { fault: "InternalError" })).toBe(1);
    expect(front.count("CompleteMultipartUpload", { fault: "SlowDown" })).toBe(1);
    expect(front.count("CompleteMultipartUpload", { fault: null })).toBe(2);
    expect(front.count("AbortMultipartUpload")).toBe(0);
    expect(await pendingUploads()).toEqual([]);
  });

  it("single-request uploads: PutObject (raw, clean and rejects objects)", async () => {
    const calm = await pipelineThroughFront().ingest({ url: `${files.baseUrl}/norte.csv`, source: "Calm" });
    const expectedClean = await bytes(calm.key);
    front.reset();

    front.inject({ operation: "PutObject", times: 2, fault: { kind: "InternalError" } });
    front.inject({ operation: "PutObject", times: 1, fault: { kind: "SlowDown" } });
    front.inject({ operation: "PutObject", times: 1, fault: { kind: "reset" } });
    const { ingest, deaths } = pipelineThroughFront();
    const result = await ingest({ url: `${files.baseUrl}/norte.csv`, source: "PutFaults" });
    expect((await bytes(result.rawKey)).equals(sample)).toBe(true);
    expect((await bytes(result.key)).equals(expectedClean)).toBe(true);
    expect(front.count("PutObject", { fault: "InternalError" })).toBe(2);
    expect(front.count("PutObject", { fault: "SlowDown" })).toBe(1);
    expect(front.count("PutObject", { fault: "reset" })).toBe(1);
    expect(front.count("PutObject", { fault: null })).toBe(2);

    // The deaths step's rejects object is a PutObject too.
    front.inject({ operation: "PutObject", keyPrefix: "rejects/", times: 2, fault: { kind: "SlowDown" } });
    const summary = await deaths(result);
    expect(front.count("PutObject", { keyPrefix: "rejects/", fault: "SlowDown" })).toBe(2);
    expect(front.count("PutObject", { keyPrefix: "rejects/", fault: null })).toBe(1);
    expect((await bytes(summary.keys.rejects)).toString("utf8")).toMatch(/^line,column,kind,reason,row\n53,/);
    await expectSampleFigures("PutFaults", summary);
  });

  it("GetObject: the deaths step reads the clean object after 503 SlowDown, 500 and a reset", async () => {
    const { ingest, deaths } = pipelineThroughFront();
    const ingested = await ingest({ url: `${files.baseUrl}/norte.csv`, source: "GetFaults" });
    front.reset();

    front.inject({ operation: "GetObject", keyPrefix: "clean/", times: 1, fault: { kind: "SlowDown" } });
    front.inject({ operation: "GetObject", keyPrefix: "clean/", times: 1, fault: { kind: "InternalError" } });
    front.inject({ operation: "GetObject", keyPrefix: "clean/", times: 1, fault: { kind: "reset" } });
    const summary = await deaths(ingested);
    expect(front.count("GetObject", { fault: null })).toBe(1);
    expect(front.count("GetObject")).toBe(4);
    expect(summary.rowsRead).toBe(ingested.rows);
    await expectSampleFigures("GetFaults", summary);
  });
});

describe(`S3 (${BACKEND}) going silent: S3_TIMEOUT_MS abandons the request and the SDK retries it`, () => {
  const quick = { S3_TIMEOUT_MS: "300" };

  it("GetObject that never answers, once: the deaths step succeeds with the same figures", async () => {
    const { ingest, deaths } = pipelineThroughFront(quick);
    const ingested = await ingest({ url: `${files.baseUrl}/norte.csv`, source: "SilentGet" });
    front.reset();
    front.inject({ operation: "GetObject", keyPrefix: "clean/", times: 1, fault: { kind: "stall" } });
    const summary = await deaths(ingested);
    expect(front.count("GetObject", { fault: "stall" })).toBe(1);
    expect(front.count("GetObject", { fault: null })).toBe(1);
    await expectSampleFigures("SilentGet", summary);
  });

  it("UploadPart that never answers, once: the ingest step completes the same objects", async () => {
    front.inject({ operation: "UploadPart", times: 1, fault: { kind: "stall" } });
    const result = await pipelineThroughFront(quick).ingest({
      url: `${files.baseUrl}/big.csv`,
      source: "SilentPart",
    });
    expect(front.count("UploadPart", { fault: "stall" })).toBe(1);
    expect((await bytes(result.rawKey)).equals(big)).toBe(true);
    expect(await pendingUploads()).toEqual([]);
  });

  it("GetObject that never answers, every time: StorageError naming the timeout, after the attempts", async () => {
    const { ingest, deaths } = pipelineThroughFront({ ...quick, S3_MAX_ATTEMPTS: "2" });
    const ingested = await ingest({ url: `${files.baseUrl}/norte.csv`, source: "DeadGet" });
    front.inject({ operation: "GetObject", times: Number.POSITIVE_INFINITY, fault: { kind: "stall" } });
    await expect(deaths(ingested)).rejects.toMatchObject({
      name: "StorageError",
      message: expect.stringMatching(/timed out after 300 ms of inactivity.*; 2 attempts\)$/),
    });
    expect(await tableRows("DeadGet")).toEqual([]);
  });
});

describe(`S3 (${BACKEND}) failing on every attempt (${DEFAULT_S3_MAX_ATTEMPTS}, the default S3_MAX_ATTEMPTS)`, () => {
  const cases: Array<{ operation: S3Operation; file: string }> = [
    { operation: "PutObject", file: "norte.csv" },
    { operation: "CreateMultipartUpload", file: "big.csv" },
    { operation: "UploadPart", file: "big.csv" },
    { operation: "CompleteMultipartUpload", file: "big.csv" },
  ];

  it.each(cases)(
    "$operation: ingest fails with StorageError naming the object, and leaves nothing",
    async ({ operation, file }) => {
      const source = `Down${operation}`;
      front.inject({ operation, times: Number.POSITIVE_INFINITY, fault: { kind: "InternalError" } });
      const failure = pipelineThroughFront().ingest({ url: `${files.baseUrl}/${file}`, source });
      await expect(failure).rejects.toMatchObject({
        name: "StorageError",
        message: expect.stringMatching(
          new RegExp(
            `^(raw|clean)/${source}/[^ ]+\\.csv: cannot write s3://${BUCKET}/\\1/${source}/[^ ]+\\.csv ` +
              `\\(InternalError: We encountered an internal error\\. Please try again\\.; ${DEFAULT_S3_MAX_ATTEMPTS} attempts\\)$`,
          ),
        ),
      });
      expect(front.count(operation, { fault: "InternalError" })).toBeGreaterThanOrEqual(
        DEFAULT_S3_MAX_ATTEMPTS,
      );
      expect(front.count(operation, { fault: null })).toBe(0);
      // A request of the other upload that was on its way when the step failed may still arrive; then nothing.
      expect(await front.idle(100, 2_000)).toBe(true);
      expect(await keys(`raw/${source}/`)).toEqual([]);
      expect(await keys(`clean/${source}/`)).toEqual([]);
      expect(await pendingUploads()).toEqual([]);
    },
  );

  it.each(["CreateMultipartUpload", "UploadPart"] as const)(
    "aborting an upload whose %s hangs cancels that request: nothing runs on behind the step, nothing is left",
    async (operation) => {
      front.inject({ operation, times: 1, fault: { kind: "stall" } });
      const upload = storeThroughFront().openUpload("stalled/x.csv", "text/csv");
      void feed(upload.body, 3 * PART);
      await vi.waitFor(() => expect(front.count(operation, { fault: "stall" })).toBe(1));

      await upload.abort();
      // The client closed the stalled connection (no S3 request timeout would have), and did not retry it.
      expect(await front.idle(100, 2_000)).toBe(true);
      if (operation === "CreateMultipartUpload") expect(front.count(operation)).toBe(1);
      expect(await keys("stalled/")).toEqual([]);
      expect(await pendingUploads()).toEqual([]);
    },
  );

  it("GetObject: the deaths step fails with StorageError naming the object, and writes nothing", async () => {
    const ingested = await pipelineThroughFront().ingest({
      url: `${files.baseUrl}/norte.csv`,
      source: "DownGet",
    });
    front.inject({ operation: "GetObject", times: Number.POSITIVE_INFINITY, fault: { kind: "SlowDown" } });
    await expect(pipelineThroughFront().deaths(ingested)).rejects.toMatchObject({
      name: "StorageError",
      message: `${ingested.key}: cannot read s3://${BUCKET}/${ingested.key} (SlowDown: Please reduce your request rate.; ${DEFAULT_S3_MAX_ATTEMPTS} attempts)`,
    });
    expect(front.count("GetObject", { fault: "SlowDown" })).toBe(DEFAULT_S3_MAX_ATTEMPTS);
    expect(await tableRows("DownGet")).toEqual([]);
    expect(await keys("rejects/DownGet/")).toEqual([]);
  });

  it("S3_MAX_ATTEMPTS sets the attempts", async () => {
    const ingested = await pipelineThroughFront().ingest({
      url: `${files.baseUrl}/norte.csv`,
      source: "Two",
    });
    front.inject({
      operation: "GetObject",
      times: Number.POSITIVE_INFINITY,
      fault: { kind: "InternalError" },
    });
    await expect(pipelineThroughFront({ S3_MAX_ATTEMPTS: "2" }).deaths(ingested)).rejects.toMatchObject({
      name: "StorageError",
      message: expect.stringMatching(/; 2 attempts\)$/),
    });
    expect(front.count("GetObject")).toBe(2);
  });
});

describe(`GetObject (${BACKEND}) whose body is cut mid-stream`, () => {
  let ingested: IngestResult;
  let clean: Buffer;

  beforeAll(async () => {
    ingested = await pipelineThroughFront().ingest({ url: `${files.baseUrl}/norte.csv`, source: "Cut" });
    clean = await bytes(ingested.key);
  });

  // Cut inside a row, a reader could take it for broken CSV; cut after a line break, for a whole, shorter file.
  it.each([
    ["after the first byte", () => 1],
    ["inside a row, half-way", () => Math.floor(clean.length / 2)],
    ["right after a line break", () => clean.indexOf(0x0a, clean.length / 2) + 1],
    ["one byte short of the end", () => clean.length - 1],
  ])(
    "%s: the deaths step fails with a retryable StorageError naming the object, and writes nothing",
    async (_, at) => {
      const afterBytes = at();
      front.inject({
        operation: "GetObject",
        keyPrefix: "clean/",
        times: 1,
        fault: { kind: "cut-body", afterBytes },
      });
      const { deaths } = pipelineThroughFront();
      await expect(deaths(ingested)).rejects.toMatchObject({
        name: "StorageError",
        message: expect.stringMatching(
          new RegExp(
            `^${ingested.key}: cannot read s3://${BUCKET}/${ingested.key}: the body broke off after ` +
              `${afterBytes} of ${clean.length} bytes \\(`,
          ),
        ),
      });
      // The SDK cannot retry a body already handed over: the step fails, and the state machine retries the step.
      expect(front.count("GetObject")).toBe(1);
      expect(await tableRows("Cut")).toEqual([]);
      expect(await keys("rejects/Cut/")).toEqual([]);

      // That retry, once S3 behaves, finds the figures a run without the fault finds.
      const summary = await deaths(ingested);
      await expectSampleFigures("Cut", summary);
      await database.db.deleteFrom("deaths_by_vehicle").where("source", "=", "Cut").execute();
      await direct.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: summary.keys.rejects }));
    },
  );
});
