import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDownloader } from "../src/adapters/http-download.js";
import { loadDownloadConfig } from "../src/config.js";
import { createDeathsFunctionHandler } from "../src/handlers/deaths-function.js";
import { createIngestHandler } from "../src/handlers/ingest-handler.js";
import {
  deathsFunctionTasks,
  type ExecutionEvent,
  runStateMachine,
  type TaskHandler,
} from "../src/local/state-machine.js";
import { sourceFromKey } from "../src/pipeline/keys.js";
import { currentFigures, openTestDatabase, type TestDatabase } from "./support/database.js";
import { referenceDeaths } from "./support/reference.js";
import { startTestStorage, type TestStorage } from "./support/storage.js";

const SAMPLES = fileURLToPath(new URL("../samples/", import.meta.url));

type Results = Array<{ status: string; link: Record<string, unknown> }>;

describe("source names from landing keys", () => {
  it.each([
    ["landing/Via_Sul/2024-11.csv", "Via_Sul"],
    ["landing/Via Sul/x/2024.csv.gz", "Via_Sul"],
    ["landing/VIA_SUL.csv", "VIA_SUL"],
    ["landing/demonstrativo acidentes.CSV.GZ", "demonstrativo_acidentes"],
    ["landing/.csv", "landing"],
  ])("%s → %s", (key, source) => {
    expect(sourceFromKey(key)).toBe(source);
  });
});

describe(`a run from an object under landing/ (database: ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"})`, () => {
  let storage: TestStorage;
  let database: TestDatabase;
  let tasks: Record<string, TaskHandler>;
  let sample: Buffer;

  beforeAll(async () => {
    [storage, database] = await Promise.all([startTestStorage(), openTestDatabase()]);
    sample = await readFile(`${SAMPLES}amostra_via_norte.csv`);
    tasks = {
      Ingest: createIngestHandler({
        store: storage.ingest.store,
        // Never called: these runs start from objects.
        download: createDownloader({ ...loadDownloadConfig({}), addressPolicy: "loopback" }),
        // Never read either: an object needs no link.yml (in AWS, reading it is a GET of config/link.yml).
        links: async () => {
          throw new Error("link.yml was read for a landing object");
        },
      }),
      // These tests run the same samples under many source names; tests/duplicates.test.ts covers refusing that.
      ...deathsFunctionTasks(
        createDeathsFunctionHandler({ store: storage.deaths.store, db: database.db, allowDuplicates: true }),
      ),
    };
  });

  afterAll(async () => {
    await database?.close();
    await storage?.close();
  });

  const put = (key: string, body: Buffer) =>
    storage.s3.send(new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: body }));
  const run = (input: unknown, events: ExecutionEvent[] = []) =>
    runStateMachine({ input, tasks, retryIntervalMs: 0, onEvent: (event) => events.push(event) });
  const resultsOf = (outcome: Awaited<ReturnType<typeof run>>): Results =>
    outcome.status === "SUCCEEDED"
      ? (outcome.output as { results: Results }).results
      : ((outcome.results ?? []) as Results);
  const figures = (source: string) => currentFigures(database.db, source);
  const runs = (source: string) =>
    database.db.selectFrom("pipeline_runs").selectAll().where("source", "=", source).execute();
  const snapshots = async (source: string) =>
    (
      await database.db
        .selectFrom("deaths_by_vehicle")
        .select("created_at")
        .distinct()
        .where("source", "=", source)
        .execute()
    ).length +
    (
      await database.db
        .selectFrom("deaths_by_vehicle_history")
        .select("created_at")
        .distinct()
        .where("source", "=", source)
        .execute()
    ).length;

  it("ingests the object, named by its folder, with the reference figures, and leaves it in place", async () => {
    const key = "landing/Norte_S3/amostra.csv";
    await put(key, sample);
    const outcome = await run({ object: { bucket: storage.bucket, key } });
    expect(outcome.status).toBe("SUCCEEDED");
    const [result] = resultsOf(outcome);
    expect(result?.link).toMatchObject({ index: 0, source: "Norte_S3" });
    expect(await figures("Norte_S3")).toEqual(referenceDeaths(sample).byVehicle);
    expect(await storage.bytes(key)).toEqual(sample);
    const [raw] = await storage.keys("raw/Norte_S3/");
    expect(raw).toBeDefined();
    expect(await storage.bytes(raw as string)).toEqual(sample);
    const [row] = await runs("Norte_S3");
    expect(row).toMatchObject({ status: "succeeded", origin: `s3://${storage.bucket}/${key}` });
  });

  it("gives the same object (same ETag) delivered twice one snapshot and one pipeline_runs row", async () => {
    const key = "landing/Twice/amostra.csv";
    await put(key, sample);
    const first = await run({ object: { bucket: storage.bucket, key } });
    const second = await run({ links: [{ object: { bucket: storage.bucket, key } }] });
    expect([first.status, second.status]).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    expect(await runs("Twice")).toHaveLength(1);
    expect(await snapshots("Twice")).toBe(1);
    expect(await storage.keys("clean/Twice/")).toHaveLength(1);
    expect(await figures("Twice")).toEqual(referenceDeaths(sample).byVehicle);
  });

  it("decompresses a .csv.gz object, named by its file when it is right under landing/", async () => {
    const key = "landing/Gz_Norte.csv.gz";
    await put(key, gzipSync(sample));
    const outcome = await run({ object: { bucket: storage.bucket, key } });
    expect(outcome.status).toBe("SUCCEEDED");
    const [result] = resultsOf(outcome);
    expect(result?.link.source).toBe("Gz_Norte");
    expect(await figures("Gz_Norte")).toEqual(referenceDeaths(sample).byVehicle);
  });

  // S3's event notifications URL-encode keys; the EventBridge form may too. The stored key is what gets read.
  it.each([
    [
      "encoded as an event would (a space as +, a non-ASCII letter as %XX)",
      "landing/Via Sul/acidentes São.csv",
      "landing/Via+Sul/acidentes+S%C3%A3o.csv",
    ],
    ["as stored, though it holds + and %", "landing/Mais/a+b 100%.csv", "landing/Mais/a+b 100%.csv"],
    [
      "as stored, when its decoded form is another object too",
      "landing/Both/a+b.csv",
      "landing/Both/a+b.csv",
    ],
  ])("reads an object whose event key is %s", async (_what, stored, inEvent) => {
    await put(stored, sample);
    // An object at the decoded form of a literal key must not be taken instead of it.
    if (stored === "landing/Both/a+b.csv") await put("landing/Both/a b.csv", Buffer.from("not,this\n"));
    const result = (await tasks.Ingest?.({ object: { bucket: storage.bucket, key: inEvent } })) as {
      rawKey: string;
      rows: number;
    };
    const reference = referenceDeaths(sample);
    expect(result.rows).toBe(reference.accepted + reference.rejectedLines.length);
    expect(await storage.bytes(result.rawKey)).toEqual(sample);
  });

  it.each([
    ["another bucket", "someone-elses-bucket", "landing/x.csv", /only objects of the pipeline's bucket/],
    ["a key outside landing/", undefined, "clean/Norte_S3/x.csv", /only objects under landing\//],
    ["a dot-dot segment", undefined, "landing/../raw/x.csv", /"\.\." segment/],
    ["another file type", undefined, "landing/x.json", /only \.csv and \.csv\.gz/],
  ])("refuses %s without retrying, reading or writing anything", async (_what, bucket, key, why) => {
    await put("clean/Norte_S3/x.csv", sample);
    const before = await storage.keys();
    const events: ExecutionEvent[] = [];
    const outcome = await run({ object: { bucket: bucket ?? storage.bucket, key } }, events);
    expect(outcome).toMatchObject({ status: "FAILED", error: "LinkFailed" });
    const [result] = resultsOf(outcome) as Array<Record<string, unknown>>;
    expect(result).toMatchObject({ status: "failed", error: "ObjectForbiddenError" });
    expect(String(result?.cause)).toMatch(why);
    expect(events.filter((event) => event.type === "retried")).toEqual([]);
    expect(events.some((event) => event.state === "ComputeDeaths")).toBe(false);
    expect(await storage.keys()).toEqual(before);
  });
});
