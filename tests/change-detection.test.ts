import { readFile } from "node:fs/promises";
import type { IncomingHttpHeaders } from "node:http";
import { fileURLToPath } from "node:url";
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
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
import { CURATED_REPORT_KEY, curatedFiguresKey } from "../src/pipeline/curated.js";
import { type SourceState, stateKey, stateObjectLookup } from "../src/pipeline/source-state.js";
import { currentFigures, openTestDatabase, type TestDatabase } from "./support/database.js";
import { startTestServer, type TestServer } from "./support/http.js";
import { referenceDeaths } from "./support/reference.js";
import { startTestStorage, type TestStorage } from "./support/storage.js";

const SAMPLES = fileURLToPath(new URL("../samples/", import.meta.url));

type Result = { status: string; link: Record<string, unknown>; since?: string; runId?: string };

/**
 * Change detection through the local state machine: the ingest step asks the source with the last successful
 * run's validators (state/<source>.json, written by the deaths step) and compares the SHA-256; an unchanged source
 * writes no object and no row, and the Choice skips the deaths step.
 */
describe(`change detection (database: ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"})`, () => {
  let storage: TestStorage;
  let database: TestDatabase;
  let server: TestServer;
  let tasks: Record<string, TaskHandler>;
  let norte: Buffer;
  let sul: Buffer;
  /** What each path serves, and whether it sends validators and answers conditional requests. */
  const served: Record<string, { body: Buffer; etag?: string; lastModified?: string }> = {};
  const requests: Array<{ path: string; headers: IncomingHttpHeaders }> = [];

  beforeAll(async () => {
    [storage, database] = await Promise.all([startTestStorage(), openTestDatabase()]);
    [norte, sul] = await Promise.all([
      readFile(`${SAMPLES}amostra_via_norte.csv`),
      readFile(`${SAMPLES}amostra_via_sul_bom.csv`),
    ]);
    server = await startTestServer((request, response) => {
      const path = request.url ?? "";
      requests.push({ path, headers: request.headers });
      const file = served[path];
      if (!file) return void response.writeHead(404).end();
      const headers: Record<string, string> = {};
      if (file.etag) headers.etag = file.etag;
      if (file.lastModified) headers["last-modified"] = file.lastModified;
      if (file.etag && request.headers["if-none-match"] === file.etag) {
        return void response.writeHead(304, headers).end();
      }
      response.writeHead(200, headers).end(file.body);
    });
    tasks = {
      Ingest: createIngestHandler({
        store: storage.ingest.store,
        download: createDownloader({ ...loadDownloadConfig({}), addressPolicy: "loopback" }),
        links: {},
        lastRun: stateObjectLookup(storage.ingest.store),
      }),
      // These tests run the same samples under many source names; tests/duplicates.test.ts covers refusing that.
      ...deathsFunctionTasks(
        createDeathsFunctionHandler({ store: storage.deaths.store, db: database.db, allowDuplicates: true }),
      ),
    };
  });

  afterAll(async () => {
    await server?.close();
    await database?.close();
    await storage?.close();
  });

  const run = async (input: unknown, events: ExecutionEvent[] = []): Promise<Result> => {
    const outcome = await runStateMachine({
      input,
      tasks,
      retryIntervalMs: 0,
      onEvent: (event) => events.push(event),
    });
    expect(outcome.status).toBe("SUCCEEDED");
    const [result] = (outcome as { output: { results: Result[] } }).output.results;
    return result as Result;
  };
  const runs = (source: string) =>
    database.db
      .selectFrom("pipeline_runs")
      .selectAll()
      .where("source", "=", source)
      .orderBy("ingested_at")
      .execute();
  const state = async (source: string) =>
    JSON.parse((await storage.bytes(stateKey(source))).toString("utf8")) as SourceState;
  const objectsOf = async (source: string) =>
    (
      await Promise.all(["raw", "clean", "rejects"].map((prefix) => storage.keys(`${prefix}/${source}/`)))
    ).flat();
  const figures = (source: string) => currentFigures(database.db, source);
  /** A source's deaths per vehicle, summed over its roads, as the curated JSON lines hold them. */
  const curatedFigures = async (source: string) => {
    const lines = (await storage.bytes(curatedFiguresKey(source, "json")))
      .toString("utf8")
      .trim()
      .split("\n");
    const sums: Record<string, number> = {};
    for (const line of lines) {
      const row = JSON.parse(line) as { vehicle: string; number_deaths: number };
      sums[row.vehicle] = (sums[row.vehicle] ?? 0) + row.number_deaths;
    }
    return sums;
  };

  it("asks with the last run's ETag and Last-Modified; on 304 writes nothing and skips the deaths step", async () => {
    const lastModified = "Wed, 01 Oct 2025 10:00:00 GMT";
    served["/cond.csv"] = { body: norte, etag: '"v1-norte"', lastModified };
    const link = { url: server.url("/cond.csv"), source: "Cond" };
    const first = await run(link);
    expect(first.status).toBe("succeeded");
    const [row] = await runs("Cond");
    expect(row).toMatchObject({ source_etag: '"v1-norte"', source_last_modified: lastModified });
    const recorded = await state("Cond");
    expect(recorded).toMatchObject({ source: "Cond", etag: '"v1-norte"', lastModified, runId: row?.run_id });
    const objects = await objectsOf("Cond");

    // The curated zone lost (or left stale by a publication that failed): an all-unchanged run rebuilds it.
    for (const Key of await storage.keys("curated/")) {
      await storage.s3.send(new DeleteObjectCommand({ Bucket: storage.bucket, Key }));
    }
    requests.length = 0;
    const events: ExecutionEvent[] = [];
    const second = await run(link, events);
    expect(second).toEqual({
      link: { index: 0, source: "Cond" },
      status: "unchanged",
      since: row?.ingested_at.toISOString(),
      runId: row?.run_id,
    });
    expect(requests[0]?.headers).toMatchObject({
      "if-none-match": '"v1-norte"',
      "if-modified-since": lastModified,
    });
    expect(events.some((event) => event.state === "ComputeDeaths")).toBe(false);
    expect(events.some((event) => event.state === "LinkUnchanged")).toBe(true);
    expect(events.filter((event) => event.state === "PublishCurated").map((event) => event.type)).toEqual([
      "entered",
      "exited",
    ]);
    expect(await storage.keys("curated/")).toContain(CURATED_REPORT_KEY);
    expect(await curatedFigures("Cond")).toEqual(referenceDeaths(norte).byVehicle);
    expect(await objectsOf("Cond")).toEqual(objects);
    expect(await runs("Cond")).toHaveLength(1);
    expect(await figures("Cond")).toEqual(referenceDeaths(norte).byVehicle);
  });

  it("without validators, finds the same SHA-256: unchanged, no object (not even a partial upload), no row", async () => {
    served["/plain.csv"] = { body: sul };
    const link = { url: server.url("/plain.csv"), source: "Plain" };
    expect((await run(link)).status).toBe("succeeded");
    const [row] = await runs("Plain");
    const objects = await objectsOf("Plain");
    expect(await state("Plain")).toMatchObject({ sha256: row?.sha256 });
    expect((await state("Plain")).etag).toBeUndefined();

    requests.length = 0;
    const events: ExecutionEvent[] = [];
    const second = await run(link, events);
    expect(second).toMatchObject({ status: "unchanged", since: row?.ingested_at.toISOString() });
    // Nothing to ask with: the file is downloaded, and compared.
    expect(requests[0]?.headers["if-none-match"]).toBeUndefined();
    expect(events.some((event) => event.state === "ComputeDeaths")).toBe(false);
    expect(await objectsOf("Plain")).toEqual(objects);
    expect(await storage.pendingUploads()).toEqual([]);
    expect(await runs("Plain")).toHaveLength(1);
  });

  it("runs a changed source in full: new snapshot, new row, and the state moves on", async () => {
    served["/changing.csv"] = { body: sul, etag: '"v1"' };
    const link = { url: server.url("/changing.csv"), source: "Changing" };
    expect((await run(link)).status).toBe("succeeded");
    expect(await figures("Changing")).toEqual(referenceDeaths(sul).byVehicle);

    served["/changing.csv"] = { body: norte, etag: '"v2"' };
    requests.length = 0;
    const second = await run(link);
    expect(second.status).toBe("succeeded");
    expect(requests[0]?.headers["if-none-match"]).toBe('"v1"');
    expect(await figures("Changing")).toEqual(referenceDeaths(norte).byVehicle);
    const rows = await runs("Changing");
    // Both runs are on record; only the newer one's snapshot is current now.
    expect(rows.map((row) => [row.source_etag, row.current])).toEqual([
      ['"v1"', false],
      ['"v2"', true],
    ]);
    expect(await state("Changing")).toMatchObject({ etag: '"v2"', runId: rows[1]?.run_id });

    // A server that ignores the condition and sends the same bytes again is still caught by the SHA-256.
    served["/changing.csv"] = { body: norte };
    expect((await run(link)).status).toBe("unchanged");
    expect(await runs("Changing")).toHaveLength(2);
  });

  it("finds a landing object unchanged: the same object again, or the same bytes uploaded anew", async () => {
    const put = (key: string, body: Buffer) =>
      storage.s3.send(new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: body }));
    await put("landing/Dropped/a.csv", norte);
    const first = await run({ object: { bucket: storage.bucket, key: "landing/Dropped/a.csv" } });
    expect(first.status).toBe("succeeded");
    const objects = await objectsOf("Dropped");
    const again = await run({ object: { bucket: storage.bucket, key: "landing/Dropped/a.csv" } });
    expect(again.status).toBe("unchanged");
    await put("landing/Dropped/b.csv", norte);
    const copy = await run({ object: { bucket: storage.bucket, key: "landing/Dropped/b.csv" } });
    expect(copy.status).toBe("unchanged");
    expect(await objectsOf("Dropped")).toEqual(objects);
    expect(await runs("Dropped")).toHaveLength(1);
    await storage.s3.send(new DeleteObjectCommand({ Bucket: storage.bucket, Key: "landing/Dropped/b.csv" }));
  });

  it("ignores a damaged state object rather than failing the run", async () => {
    served["/damaged.csv"] = { body: sul, etag: '"d1"' };
    await storage.s3.send(
      new PutObjectCommand({
        Bucket: storage.bucket,
        Key: stateKey("Damaged"),
        Body: '{"source": "Damaged", "sha',
      }),
    );
    requests.length = 0;
    expect((await run({ url: server.url("/damaged.csv"), source: "Damaged" })).status).toBe("succeeded");
    expect(requests[0]?.headers["if-none-match"]).toBeUndefined();
    expect(await state("Damaged")).toMatchObject({ etag: '"d1"' });
  });

  it("with no state object (a first run, or one lost), ingests as before", async () => {
    served["/fresh.csv"] = { body: sul, etag: '"f1"' };
    const link = { url: server.url("/fresh.csv"), source: "Fresh" };
    expect((await run(link)).status).toBe("succeeded");
    await storage.s3.send(new DeleteObjectCommand({ Bucket: storage.bucket, Key: stateKey("Fresh") }));
    requests.length = 0;
    expect((await run(link)).status).toBe("succeeded");
    expect(requests[0]?.headers["if-none-match"]).toBeUndefined();
    expect(await runs("Fresh")).toHaveLength(2);
  });
});
