import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDownloader } from "../src/adapters/http-download.js";
import { linksFromStore } from "../src/adapters/links.js";
import type { ObjectStore } from "../src/adapters/object-store.js";
import { loadDownloadConfig } from "../src/config.js";
import { createDeathsFunctionHandler } from "../src/handlers/deaths-function.js";
import { createIngestHandler } from "../src/handlers/ingest-handler.js";
import { createListLinksHandler } from "../src/handlers/list-links-handler.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import { deathsFunctionTasks, runStateMachine, type TaskHandler } from "../src/local/state-machine.js";
import { stateObjectLookup } from "../src/pipeline/source-state.js";
import { currentFigures, openTestDatabase, type TestDatabase } from "./support/database.js";
import { referenceDeaths } from "./support/reference.js";
import { startTestStorage, type TestStorage } from "./support/storage.js";

/**
 * The first run of a deployed stack, as AWS would answer it: each function's S3 requests go through the strict
 * front with its role as template.yaml declares it (tests/support/strict-s3.ts), the bucket holds no
 * config/link.yml and no state/ object, and the tasks are composed as the Lambda entry points compose them
 * (src/lambda/ingest.ts: links from config/link.yml else the image's file, change detection from state/).
 */

const SAMPLES = fileURLToPath(new URL("../samples/", import.meta.url));
const SAMPLE = "amostra_via_norte.csv";

function lambdaTasks(
  ingestStore: ObjectStore,
  deathsStore: ObjectStore,
  database: TestDatabase,
  linksFile: string,
): Record<string, TaskHandler> {
  const links = linksFromStore(ingestStore, "config/link.yml", linksFile, 0);
  const download = createDownloader({ ...loadDownloadConfig({}), addressPolicy: "loopback" });
  return {
    Ingest: async (event) =>
      createIngestHandler({
        store: ingestStore,
        download,
        links: await links(),
        lastRun: stateObjectLookup(ingestStore),
      })(event),
    ListLinks: createListLinksHandler(links),
    // Every first run here reads the same sample under a new source name.
    ...deathsFunctionTasks(
      createDeathsFunctionHandler({ store: deathsStore, db: database.db, allowDuplicates: true }),
    ),
  };
}

describe("a new stack's first runs, under the roles template.yaml grants", () => {
  let storage: TestStorage;
  let database: TestDatabase;
  let files: RunningFileServer;
  let directory: string;
  let linksFile: string;
  let sample: Buffer;

  beforeAll(async () => {
    [storage, database, files] = await Promise.all([
      startTestStorage(),
      openTestDatabase(),
      startFileServer(SAMPLES),
    ]);
    sample = await readFile(join(SAMPLES, SAMPLE));
    directory = await mkdtemp(join(tmpdir(), "roadtoll-first-"));
    // The image's link.yml, which the functions fall back to while the bucket has no config/link.yml.
    linksFile = join(directory, "link.yml");
    await writeFile(linksFile, `First_Listed: "${files.baseUrl}/${SAMPLE}"\n`);
  });

  afterAll(async () => {
    await files?.close();
    await database?.close();
    await storage?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  const putLanding = (key: string) =>
    storage.s3.send(new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: sample }));

  describe("with the template's policies", () => {
    let tasks: Record<string, TaskHandler>;
    beforeAll(() => {
      tasks = lambdaTasks(storage.ingest.store, storage.deaths.store, database, linksFile);
    });

    it("starts with no config/link.yml and no state/ object", async () => {
      expect(await storage.keys("config/")).toEqual([]);
      expect(await storage.keys("state/")).toEqual([]);
    });

    it("runs a new source by URL to SUCCEEDED, with its figures", async () => {
      const outcome = await runStateMachine({
        input: { url: `${files.baseUrl}/${SAMPLE}`, source: "First_By_Url" },
        tasks,
        retryIntervalMs: 0,
      });
      expect(outcome.status).toBe("SUCCEEDED");
      expect(await currentFigures(database.db, "First_By_Url")).toEqual(referenceDeaths(sample).byVehicle);
      expect(await storage.keys("state/")).toContain("state/First_By_Url.json");
    });

    it("runs a new source from a landing object whose key has a space, sent encoded as S3 events do", async () => {
      await putLanding("landing/First Landing/2024 11.csv");
      const outcome = await runStateMachine({
        input: { object: { bucket: storage.bucket, key: "landing/First+Landing/2024+11.csv" } },
        tasks,
        retryIntervalMs: 0,
      });
      expect(outcome.status).toBe("SUCCEEDED");
      expect(await currentFigures(database.db, "First_Landing")).toEqual(referenceDeaths(sample).byVehicle);
    });

    it('runs {"all": true} from the image\'s link.yml while the bucket has none', async () => {
      const outcome = await runStateMachine({ input: { all: true }, tasks, retryIntervalMs: 0 });
      expect(outcome.status).toBe("SUCCEEDED");
      expect(await currentFigures(database.db, "First_Listed")).toEqual(referenceDeaths(sample).byVehicle);
    });

    it("ends a second run of the same bytes unchanged, read from the state object the first one wrote", async () => {
      const outcome = await runStateMachine({
        input: { url: `${files.baseUrl}/${SAMPLE}`, source: "First_By_Url" },
        tasks,
        retryIntervalMs: 0,
      });
      expect(outcome.status).toBe("SUCCEEDED");
      expect(JSON.stringify(outcome)).toContain("unchanged");
    });

    it("asked S3 for nothing the roles may not do", () => {
      expect([...storage.ingest.front.refused, ...storage.deaths.front.refused]).toEqual([]);
    });
  });

  describe("with the ListBucket statements taken out of the template (the front must bite)", () => {
    let tasks: Record<string, TaskHandler>;
    let ingestRefused: () => ReadonlyArray<{ key: string; code: string }>;
    beforeAll(async () => {
      const withoutList = { withoutStatements: ["TellMissingKeysApart"] };
      const [ingest, deaths] = await Promise.all([
        storage.as("IngestFunction", withoutList),
        storage.as("DeathsFunction", withoutList),
      ]);
      ingestRefused = () => ingest.front.refused;
      tasks = lambdaTasks(ingest.store, deaths.store, database, linksFile);
    });

    it("fails a new source's first run by URL: its missing state object is 403 AccessDenied", async () => {
      const outcome = await runStateMachine({
        input: { url: `${files.baseUrl}/${SAMPLE}`, source: "Denied_By_Url" },
        tasks,
        retryIntervalMs: 0,
      });
      expect(outcome).toMatchObject({ status: "FAILED", error: "LinkFailed" });
      expect(JSON.stringify(outcome)).toContain("AccessDenied");
      expect(ingestRefused()).toContainEqual(
        expect.objectContaining({ key: "config/link.yml", code: "AccessDenied" }),
      );
      expect(await currentFigures(database.db, "Denied_By_Url")).toEqual({});
    });

    it("fails a new source's first run from a landing object", async () => {
      await putLanding("landing/Denied Landing/2024.csv");
      const outcome = await runStateMachine({
        input: { object: { bucket: storage.bucket, key: "landing/Denied+Landing/2024.csv" } },
        tasks,
        retryIntervalMs: 0,
      });
      expect(outcome.status).toBe("FAILED");
      expect(JSON.stringify(outcome)).toContain("AccessDenied");
      expect(await currentFigures(database.db, "Denied_Landing")).toEqual({});
    });
  });
});
