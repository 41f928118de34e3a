import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishSnapshot } from "../src/db/deaths-repository.js";
import { createPublishCuratedHandler } from "../src/handlers/publish-curated-handler.js";
import { CURATED_REPORT_KEY, curatedFiguresKey } from "../src/pipeline/curated.js";
import { openTestDatabase, type TestDatabase } from "./support/database.js";
import { startTestStorage, type TestStorage } from "./support/storage.js";

/**
 * The local runner tells PublishCurated the bundled samples' SHA-256: their figures stay out of the curated zone
 * once a real source is there, so that no sum over curated/ adds synthetic deaths to real ones.
 */
let storage: TestStorage;
let database: TestDatabase;

const digest = (text: string) => createHash("sha256").update(text).digest("hex");
const SAMPLE_FILE = digest("the bundled sample's bytes");

async function publish(source: string, sha256: string, road: string, deaths: number) {
  const createdAt = new Date();
  const runId = `${createdAt.getTime()}-${source}`;
  const byVehicle = { automovel: deaths, bicicleta: 0, caminhao: 0, moto: 0, onibus: 0 };
  await publishSnapshot(
    database.db,
    {
      source,
      createdAt,
      roads: [{ road, byVehicle, total: deaths }],
      roadYears: [{ road, year: 2024, accidents: 1, deaths, byVehicle }],
    },
    {
      runId,
      sha256,
      cleanKey: `clean/${source}/${runId}.csv`,
      rejectsKey: `rejects/${source}/${runId}.csv`,
      rowsRead: 1,
      rowsAccepted: 1,
      rowsRejected: 0,
      rejectKinds: [],
    },
  );
}

beforeAll(async () => {
  [storage, database] = await Promise.all([startTestStorage("roadtoll-samples"), openTestDatabase()]);
});

afterAll(async () => {
  await database?.close();
  await storage?.close();
});

describe(`curated zone and the bundled samples (database: ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"})`, () => {
  const publishCurated = () =>
    createPublishCuratedHandler({ store: storage.store, db: database.db, sampleDigests: [SAMPLE_FILE] })({
      publishCurated: {},
    });
  const curatedKeys = async () => (await storage.keys("curated/")).sort();
  const report = async () => (await storage.bytes(CURATED_REPORT_KEY)).toString("utf8");

  it("publishes the samples while they are all there is, and takes them out when a real source comes", async () => {
    await publish("amostra_norte", SAMPLE_FILE, "BR-SAMPLE/XX", 7);
    expect(await publishCurated()).toEqual({ report: CURATED_REPORT_KEY, objects: 3 });
    expect(await curatedKeys()).toEqual(
      [
        CURATED_REPORT_KEY,
        curatedFiguresKey("amostra_norte", "csv"),
        curatedFiguresKey("amostra_norte", "json"),
      ].sort(),
    );
    require("node:fs").writeFileSync("/tmp/r1.html", await report());
    expect(await report()).toContain("BR-SAMPLE/XX");

    await publish("VIA_REAL", digest("a real file"), "BR-101/SC", 5);
    expect(await publishCurated()).toEqual({ report: CURATED_REPORT_KEY, objects: 3 });
    expect(await curatedKeys()).toEqual(
      [
        CURATED_REPORT_KEY,
        curatedFiguresKey("VIA_REAL", "csv"),
        curatedFiguresKey("VIA_REAL", "json"),
      ].sort(),
    );
    const html = await report();
    expect(html).toContain("BR-101/SC");
    expect(html).not.toContain("BR-SAMPLE/XX");
    expect(html).toContain("--include-samples");
  });
});
