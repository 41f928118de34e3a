import { createHash } from "node:crypto";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase } from "../src/db/database.js";
import { publishSnapshot } from "../src/db/deaths-repository.js";
import { forgetSource } from "../src/db/forget-source.js";
import type { RejectKindCount } from "../src/domain/rejects.js";
import { createDeathsFunctionHandler } from "../src/handlers/deaths-function.js";
import { createPublishCuratedHandler } from "../src/handlers/publish-curated-handler.js";
import { CURATED_REPORT_KEY, curatedFiguresKey, publishCurated } from "../src/pipeline/curated.js";
import { stateKey, stateObjectLookup } from "../src/pipeline/source-state.js";
import { openTestDatabase, type TestDatabase } from "./support/database.js";
import { startTestStorage, type TestStorage } from "./support/storage.js";

let storage: TestStorage;
let database: TestDatabase;

const HOSTILE = "<script>alert(1)</script>";
const FORMULA = "=cmd|' /C calc'!A0";
const deaths = (automovel: number, moto: number) => ({
  automovel,
  bicicleta: 0,
  caminhao: 0,
  moto,
  onibus: 0,
});

const NO_ROAD: RejectKindCount = { column: "trecho", kind: "no road name", count: 1 };

async function publish(
  source: string,
  createdAt: Date,
  roads: Array<[string, number, number]>,
  rejectKinds: RejectKindCount[] = [],
) {
  const rejected = rejectKinds.reduce((sum, kind) => sum + kind.count, 0);
  const runId = `${createdAt.getTime()}-${source}`;
  await publishSnapshot(
    database.db,
    {
      source,
      createdAt,
      roads: roads.map(([road, automovel, moto]) => ({
        road,
        byVehicle: deaths(automovel, moto),
        total: automovel,
      })),
      // Each accident here involves one of the two types: its deaths counted once are the metric's sum.
      roadYears: roads.map(([road, automovel, moto]) => ({
        road,
        year: 2024,
        accidents: 10,
        deaths: automovel + moto,
        byVehicle: deaths(automovel, moto),
      })),
    },
    {
      runId,
      origin: `https://example.org/${source}.csv`,
      // Each source its own file: the same digest under two sources would be refused as a duplicate.
      sha256: createHash("sha256").update(source).digest("hex"),
      cleanKey: `clean/${source}/${runId}.csv`,
      rejectsKey: `rejects/${source}/${runId}.csv`,
      rowsRead: 10 + rejected,
      rowsAccepted: 10,
      rowsRejected: rejected,
      rejectKinds,
    },
  );
  return `rejects/${source}/${runId}.csv`;
}

beforeAll(async () => {
  [storage, database] = await Promise.all([startTestStorage(), openTestDatabase()]);
  const rejects = await publish(
    "VIA_A",
    new Date("2025-01-01T00:00:00Z"),
    [
      ["BR-101/SC", 3, 1],
      [HOSTILE, 2, 0],
      [FORMULA, 1, 1],
    ],
    [
      { column: "mortos", kind: "negative count", count: 2 },
      { column: "", kind: "wrong number of fields", count: 1 },
    ],
  );
  await storage.store.writeText(
    rejects,
    'line,column,kind,reason,row\n4,mortos,negative count,negative count -1,"a;b;-1"\n9,mortos,negative count,' +
      'negative count -2,"x\ny"\n12,,wrong number of fields,"expected 23 fields, found 22",z\n',
    "text/csv",
  );
  // Its rejects object was never written: the report says so, and is written all the same.
  await publish("VIA_B", new Date("2025-02-01T00:00:00Z"), [["BR-116/BA", 5, 4]], [NO_ROAD]);
});

afterAll(async () => {
  await database?.close();
  await storage?.close();
});

describe(`publishCurated (${process.env.DATABASE_URL ? "Postgres" : "PGlite"})`, () => {
  it("writes the report and each source's current figures as CSV and JSON lines, partitioned by source", async () => {
    const { keys } = await publishCurated(storage.deaths.store, database.db, {
      now: new Date("2025-03-01T00:00:00Z"),
    });
    const expected = [
      CURATED_REPORT_KEY,
      "curated/deaths_by_vehicle_csv/source=VIA_A/deaths_by_vehicle.csv",
      "curated/deaths_by_vehicle/source=VIA_A/deaths_by_vehicle.json",
      "curated/deaths_by_vehicle_csv/source=VIA_B/deaths_by_vehicle.csv",
      "curated/deaths_by_vehicle/source=VIA_B/deaths_by_vehicle.json",
    ];
    expect([...keys].sort()).toEqual(expected.sort());
    expect(await storage.keys("curated/")).toEqual(expected.sort());

    const current = await database.db
      .selectFrom("deaths_by_vehicle")
      .select(["road_name", "vehicle", "number_deaths", "created_at"])
      .where("source", "=", "VIA_A")
      .orderBy("road_name")
      .orderBy("vehicle")
      .execute();
    const asText = current.map((row) => ({
      ...row,
      number_deaths: String(row.number_deaths),
      created_at: row.created_at.toISOString(),
    }));
    const csv = (await storage.bytes(curatedFiguresKey("VIA_A", "csv"))).toString("utf8");
    expect(csv.startsWith("road_name,vehicle,number_deaths,created_at\r\n")).toBe(true);
    expect(csv.endsWith("\r\n")).toBe(true);
    // A name a spreadsheet would run as a formula gets a leading ' in the CSV, and only there.
    const spreadsheetSafe = asText.map((row) =>
      row.road_name === FORMULA ? { ...row, road_name: `'${FORMULA}` } : row,
    );
    expect(asText.some((row) => row.road_name === FORMULA)).toBe(true);
    expect(parse(csv, { columns: true, record_delimiter: "\r\n" })).toEqual(spreadsheetSafe);

    const json = (await storage.bytes(curatedFiguresKey("VIA_A", "json"))).toString("utf8");
    const lines = json.split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.map((line) => JSON.parse(line))).toEqual(
      asText.map((row) => ({ ...row, number_deaths: Number(row.number_deaths) })),
    );
  });

  it("puts the reasons from the rejects objects in the report, escapes names, and fetches nothing", async () => {
    await publishCurated(storage.deaths.store, database.db);
    const html = (await storage.bytes(CURATED_REPORT_KEY)).toString("utf8");
    expect(html).toContain('2 × mortos: negative count <span class="gloss">(lines 4, 9)</span>');
    expect(html).toContain('1 × wrong number of fields <span class="gloss">(line 12)</span>');
    // VIA_B's counts are in pipeline_runs; only the lines needed its rejects object, which was never written.
    expect(html).toContain("<li>1 × trecho: no road name</li>");
    expect(html).toMatch(/Lines not read: [^<]*s3:\/\/roadtoll-test\/rejects\/VIA_B\/[^ ]+ does not exist/);
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).not.toMatch(/<script|<link|<img|https?:\/\/(?!example\.org)|url\(/i);
  });

  it("writes the same objects when run again", async () => {
    const now = new Date("2025-03-01T00:00:00Z");
    await publishCurated(storage.deaths.store, database.db, { now });
    const first = await Promise.all((await storage.keys("curated/")).map((key) => storage.bytes(key)));
    await publishCurated(storage.deaths.store, database.db, { now });
    const second = await Promise.all((await storage.keys("curated/")).map((key) => storage.bytes(key)));
    expect(second).toEqual(first);
  });

  it("names a database it cannot read as retryable (DatabaseUnavailableError), as the deaths step does", async () => {
    // Port 1 on loopback refuses connections: the same failure as a database that is restarting.
    const unreachable = await createDatabase({ kind: "url", url: "postgres://postgres@127.0.0.1:1/none" });
    try {
      await expect(
        publishCurated(storage.deaths.store, unreachable, { retry: { delaysMs: [0] } }),
      ).rejects.toMatchObject({
        name: "DatabaseUnavailableError",
        message: expect.stringContaining("cannot read the figures to publish under curated/"),
      });
    } finally {
      await unreachable.destroy();
    }
  });
});

describe("the deaths function's second task, PublishCurated", () => {
  const execution = "arn:aws:states:us-east-1:123456789012:execution:roadtoll-pipeline:run-1";

  it("publishes curated/ for {publishCurated: {execution}} and answers with the report's key and a count", async () => {
    const handler = createDeathsFunctionHandler({
      store: storage.deaths.store,
      db: database.db,
      allowDuplicates: true,
    });
    // Two sources: the report and two files each.
    await expect(handler({ publishCurated: { execution } })).resolves.toEqual({
      report: CURATED_REPORT_KEY,
      objects: 5,
    });
    // A direct invocation needs no execution.
    await expect(
      createPublishCuratedHandler({ store: storage.deaths.store, db: database.db })({ publishCurated: {} }),
    ).resolves.toEqual({
      report: CURATED_REPORT_KEY,
      objects: 5,
    });
    expect(await storage.keys("curated/")).toHaveLength(5);
  });

  it.each([
    [{ publishCurated: { execution: 42 } }, "publishCurated.execution"],
    [{ publishCurated: { execution, extra: 1 } }, "publishCurated"],
    [{ publishCurated: {}, key: "clean/x.csv" }, "(event)"],
    [{ publishCurated: true }, "publishCurated"],
  ])("refuses a malformed curated event %j as one (never as a deaths event)", async (event, path) => {
    const handler = createDeathsFunctionHandler({
      store: storage.deaths.store,
      db: database.db,
      allowDuplicates: true,
    });
    await expect(handler(event)).rejects.toMatchObject({
      name: "InvalidEventError",
      message: expect.stringMatching(
        new RegExp(`^invalid publish-curated event: .*${path.replace(/[().]/g, "\\$&")}`),
      ),
    });
  });

  it("still hands any other event to the deaths step", async () => {
    const handler = createDeathsFunctionHandler({
      store: storage.deaths.store,
      db: database.db,
      allowDuplicates: true,
    });
    await expect(handler({ key: "not-clean/x.csv" })).rejects.toMatchObject({
      name: "InvalidEventError",
      message: expect.stringMatching(/^invalid deaths event: /),
    });
  });
});

describe("publishCurated at any number of roads", () => {
  it("reads a source a page at a time, every row once, and lists ten roads in the report", async () => {
    const many = await openTestDatabase();
    try {
      // 2,601 roads, 13,005 rows: three pages of figures, the last one short.
      const roads = Array.from({ length: 2_601 }, (_, i) => `ROAD ${String(i).padStart(5, "0")}`);
      await publishSnapshot(
        many.db,
        {
          source: "VIA_MANY",
          createdAt: new Date("2025-01-01T00:00:00Z"),
          roads: roads.map((road, i) => ({ road, byVehicle: deaths(i % 7, i % 3), total: i % 7 })),
          roadYears: roads.map((road, i) => ({
            road,
            year: 2020,
            accidents: 2,
            deaths: (i % 7) + (i % 3),
            byVehicle: deaths(i % 7, i % 3),
          })),
        },
        {
          runId: "many",
          sha256: createHash("sha256").update("many").digest("hex"),
          cleanKey: "clean/VIA_MANY/many.csv",
          rejectsKey: "rejects/VIA_MANY/many.csv",
          rowsRead: 5_202,
          rowsAccepted: 5_202,
          rowsRejected: 0,
          rejectKinds: [],
        },
      );
      await publishCurated(storage.deaths.store, many.db);
      const csv = parse((await storage.bytes(curatedFiguresKey("VIA_MANY", "csv"))).toString("utf8"), {
        columns: true,
        record_delimiter: "\r\n",
      }) as Array<{ road_name: string; vehicle: string; number_deaths: string }>;
      expect(csv).toHaveLength(roads.length * 5);
      expect(new Set(csv.map((row) => `${row.road_name}/${row.vehicle}`)).size).toBe(roads.length * 5);
      const moto = csv
        .filter((row) => row.vehicle === "moto")
        .reduce((sum, row) => sum + Number(row.number_deaths), 0);
      expect(moto).toBe(roads.reduce((sum, _road, i) => sum + (i % 3), 0));
      const json = (await storage.bytes(curatedFiguresKey("VIA_MANY", "json"))).toString("utf8");
      expect(json.split("\n").filter(Boolean)).toHaveLength(roads.length * 5);

      const html = (await storage.bytes(CURATED_REPORT_KEY)).toString("utf8");
      expect(html.match(/data-chart="roads" data-row=/g)).toHaveLength(2 * 10);
      expect(html).toContain("2,591 more roads are not listed.");
    } finally {
      await many.close();
    }
  });
});

describe("publishCurated after roadtoll forget", () => {
  it("removes the forgotten source's figures, as the deaths role may, and resets its change detection", async () => {
    const own = await openTestDatabase();
    try {
      const source = "VIA_GONE";
      await publishSnapshot(
        own.db,
        {
          source,
          createdAt: new Date("2025-01-01T00:00:00Z"),
          roads: [{ road: "BR-101/SC", byVehicle: deaths(1, 2), total: 2 }],
        },
        {
          runId: "gone",
          sha256: createHash("sha256").update(source).digest("hex"),
          cleanKey: `clean/${source}/gone.csv`,
          rejectsKey: `rejects/${source}/gone.csv`,
          rowsRead: 1,
          rowsAccepted: 1,
          rowsRejected: 0,
          rejectKinds: [],
        },
      );
      const state = {
        source,
        runId: "gone",
        ingestedAt: "2025-01-01T00:00:00.000Z",
        sha256: createHash("sha256").update(source).digest("hex"),
      };
      await storage.store.writeText(stateKey(source), JSON.stringify(state), "application/json");
      expect(await stateObjectLookup(storage.store)(source)).toMatchObject(state);
      await publishCurated(storage.deaths.store, own.db);
      const figures = [curatedFiguresKey(source, "csv"), curatedFiguresKey(source, "json")];
      for (const key of figures) expect(await storage.store.exists(key), key).toBe(true);

      expect(await forgetSource(own.db, source)).toMatchObject({ roads: 1, rows: 5 });
      // Through the deaths function's role, as the strict front evaluates template.yaml's policy.
      await publishCurated(storage.deaths.store, own.db);
      for (const key of figures) expect(await storage.store.exists(key), key).toBe(false);
      expect(await stateObjectLookup(storage.store)(source)).toBeUndefined();
      const html = (await storage.bytes(CURATED_REPORT_KEY)).toString("utf8");
      expect(html).toContain('<span class="status forgotten">forgotten</span>');
      expect(html).toContain("No figures yet");
    } finally {
      await own.close();
    }
  });
});
