import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestPipeline, type TestPipeline } from "../../tests/support/pipeline.js";
import { referenceDeaths } from "../../tests/support/reference.js";
import type { IngestResult } from "../contracts/events.js";
import { RoadtollError } from "../errors.js";
import { createDeathsFunctionHandler } from "../handlers/deaths-function.js";
import { CURATED_REPORT_KEY } from "../pipeline/curated.js";
import type { DeathsResult } from "../pipeline/deaths-step.js";
import type { UnchangedResult } from "../pipeline/ingest-link.js";
import { instrument } from "./instrument.js";
import { createLogger } from "./logger.js";
import {
  createStepMetrics,
  deathsMeasures,
  ERROR_DIMENSION,
  ERROR_METRIC,
  errorName,
  FUNCTION_DIMENSION,
  ingestMeasures,
  METRICS_NAMESPACE,
  RUN_METRICS,
  UNEXPECTED_ERROR,
} from "./metrics.js";

const SAMPLES = join(import.meta.dirname, "../../samples");
const SAMPLE = "amostra_via_norte";

interface Emf {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }>;
  };
  [field: string]: unknown;
}

/** Powertools writes EMF with a Console of its own on process.stdout: every stdout line, parsed. */
function captureStdout(): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    for (const text of String(chunk).split("\n")) {
      if (text !== "") lines.push(JSON.parse(text) as Record<string, unknown>);
    }
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  return lines;
}

const emfOf = (lines: Array<Record<string, unknown>>): Emf[] =>
  lines.filter((line): line is Emf => typeof line._aws === "object");

/** The metric names one EMF line declares. */
const namesIn = (line: Emf): string[] =>
  line._aws.CloudWatchMetrics.flatMap((set) => set.Metrics.map((metric) => metric.Name)).sort();

const ENV = { AWS_LAMBDA_FUNCTION_NAME: "roadtoll-dev-DeathsFunction-AbC" };

afterEach(() => {
  vi.restoreAllMocks();
});

describe("metrics on the handler path (real ingest and deaths handlers, S3 server and database)", () => {
  let pipeline: TestPipeline;

  beforeAll(async () => {
    pipeline = await startTestPipeline(SAMPLES);
  });

  afterAll(async () => {
    await pipeline?.close();
  });

  it("emits one EMF line per run whose figures are the run's, checked against an independent count", async () => {
    const logger = createLogger({ LOG_LEVEL: "error" });
    const ingest = instrument<IngestResult>(
      "ingest",
      pipeline.ingest,
      logger,
      createStepMetrics("ingest", ingestMeasures, {
        env: { AWS_LAMBDA_FUNCTION_NAME: "roadtoll-dev-IngestFunction-XyZ" },
        logger,
      }),
    );
    const deaths = instrument<DeathsResult>(
      "deaths",
      pipeline.deaths,
      logger,
      createStepMetrics("deaths", deathsMeasures, { env: ENV, logger }),
    );
    const lines = captureStdout();
    const ingested = await ingest({
      url: `${pipeline.files.baseUrl}/${SAMPLE}.csv?token=S3CRET`,
      source: SAMPLE,
    });
    const result = await deaths(ingested);
    vi.restoreAllMocks();

    const emf = emfOf(lines);
    expect(emf).toHaveLength(2);
    const [fromIngest, fromDeaths] = emf as [Emf, Emf];
    const expected = referenceDeaths(await readFile(join(SAMPLES, `${SAMPLE}.csv`)));
    const size = (await readFile(join(SAMPLES, `${SAMPLE}.csv`))).length;

    expect(fromIngest).toMatchObject({
      service: "ingest",
      [FUNCTION_DIMENSION]: "roadtoll-dev-IngestFunction-XyZ",
      BytesIngested: size,
      IngestUnchanged: 0,
      source: SAMPLE,
    });
    expect(fromDeaths).toMatchObject({
      service: "deaths",
      [FUNCTION_DIMENSION]: ENV.AWS_LAMBDA_FUNCTION_NAME,
      RowsRead: expected.accepted + expected.rejectedLines.length,
      RowsAccepted: expected.accepted,
      RowsRejected: expected.rejectedLines.length,
      Deaths: expected.totalDeaths,
      source: SAMPLE,
    });
    // The deaths step's own figures too, and a file with rejects: the test would not see a swapped pair.
    expect(fromDeaths.RowsRead).toBe(result.rowsRead);
    expect(fromDeaths.RowsRejected).toBeGreaterThan(0);
    expect(fromDeaths.RowsRead).toBe(ingested.rows);

    for (const line of emf) {
      const [set] = line._aws.CloudWatchMetrics;
      expect(set?.Namespace).toBe(METRICS_NAMESPACE);
      // By function only: no per-source series.
      expect(set?.Dimensions).toEqual([["service", FUNCTION_DIMENSION]]);
      expect(JSON.stringify(line)).not.toMatch(/:\/\/|S3CRET/);
    }
    expect(namesIn(fromIngest)).toEqual(["BytesIngested", "IngestUnchanged"]);
    expect(namesIn(fromDeaths)).toEqual(["Deaths", "RowsAccepted", "RowsRead", "RowsRejected"]);
  });

  it("counts a failed run under its error's name, in a line of its own, and still fails the same way", async () => {
    const metrics = createStepMetrics("deaths", deathsMeasures, { env: ENV, logger: createLogger({}) });
    const deaths = instrument("deaths", pipeline.deaths, createLogger({ LOG_LEVEL: "error" }), metrics);
    const lines = captureStdout();
    const event = {
      bucket: pipeline.storage.bucket,
      key: "clean/nowhere/20240101T000000000Z-abc.csv",
      source: "nowhere",
      runId: "20240101T000000000Z-abc",
      ingestedAt: "2024-01-01T00:00:00.000Z",
    };
    const failure = await deaths(event).catch((error: unknown) => error);
    vi.restoreAllMocks();
    expect(failure).toMatchObject({ name: "ObjectNotFoundError" });
    const emf = emfOf(lines);
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({
      [ERROR_METRIC]: 1,
      [ERROR_DIMENSION]: "ObjectNotFoundError",
      service: "deaths",
    });
    expect(emf[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([
      ["service", FUNCTION_DIMENSION, ERROR_DIMENSION],
    ]);
    // No run figures for a run that produced none.
    expect(emf[0]).not.toHaveProperty("RowsRead");
  });

  it("gives the curated publication (the same function, PublishCurated) no run figures, and its execution as correlation id", async () => {
    const logger = createLogger({ LOG_LEVEL: "info" });
    const handler = instrument(
      "deaths",
      createDeathsFunctionHandler({ store: pipeline.storage.store, db: pipeline.database.db }),
      logger,
      createStepMetrics("deaths", deathsMeasures, { env: ENV, logger }),
    );
    const lines = captureStdout();
    const execution = "arn:aws:states:us-east-1:123456789012:execution:roadtoll-pipeline:run-7";
    const result = await handler({ publishCurated: { execution } });
    vi.restoreAllMocks();
    expect(result).toEqual({ report: CURATED_REPORT_KEY, objects: expect.any(Number) });
    // Not a run of a source: nothing to count, so no EMF line at all (an empty one would be a Powertools warning).
    expect(emfOf(lines)).toEqual([]);
    expect(lines.find((line) => line.message === "succeeded")).toMatchObject({
      step: "deaths",
      correlation_id: execution,
      result: { report: CURATED_REPORT_KEY },
    });
  });
});

describe("measures", () => {
  it("reads an unchanged source as one skipped run and nothing ingested", () => {
    const unchanged: UnchangedResult = {
      status: "unchanged",
      source: "VIA_SUL",
      url: "https://h.example/x.csv",
      since: "2024-01-01T00:00:00.000Z",
      runId: "r",
      reason: "same-sha256",
      sha256: "0".repeat(64),
    };
    expect(ingestMeasures(unchanged)).toEqual({ IngestUnchanged: 1 });
    expect(ingestMeasures({ links: [{ source: "A" }] })).toEqual({});
    expect(deathsMeasures({ report: CURATED_REPORT_KEY, objects: 5 })).toEqual({});
  });

  it("names errors by their stable name, anything else as unexpected", () => {
    expect(errorName(new RoadtollError("TooManyRejectsError", "x"))).toBe("TooManyRejectsError");
    expect(errorName(new TypeError("x"))).toBe(UNEXPECTED_ERROR);
    expect(errorName("x")).toBe(UNEXPECTED_ERROR);
  });

  it("gives each metric a unit Powertools accepts", () => {
    expect(Object.values(RUN_METRICS).every((unit) => unit === "Count" || unit === "Bytes")).toBe(true);
  });

  it("writes nothing when a run measured nothing, and never fails the handler over a metric", async () => {
    const lines = captureStdout();
    const logger = createLogger({ LOG_LEVEL: "warn" });
    const quiet = instrument(
      "ingest",
      async () => ({ links: [{ source: "A" }] }),
      logger,
      createStepMetrics("ingest", ingestMeasures, { env: {}, logger }),
    );
    await expect(quiet({ listLinks: true })).resolves.toEqual({ links: [{ source: "A" }] });
    const broken = instrument("deaths", async () => ({ rowsRead: 1 }), logger, {
      succeeded: () => {
        throw new RangeError("bad metric");
      },
      failed: () => undefined,
      flush: () => undefined,
    });
    await expect(broken({})).resolves.toEqual({ rowsRead: 1 });
    vi.restoreAllMocks();
    expect(emfOf(lines)).toEqual([]);
  });
});
