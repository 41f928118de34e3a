import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/run.js";
import type { DeathsHandler } from "../src/handlers/deaths-handler.js";
import type { IngestHandler } from "../src/handlers/ingest-handler.js";
import type { RunningFileServer } from "../src/local/file-server.js";
import type { DeathsResult, DeathsSummary } from "../src/pipeline/deaths-step.js";
import type { TestDatabase } from "./support/database.js";
import { startTestPipeline, type TestPipeline } from "./support/pipeline.js";
import { referenceDeaths } from "./support/reference.js";
import type { TestStorage } from "./support/storage.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** The real files live beside the project, never in it (../shared/README.md). */
const ANTT = join(ROOT, "..", "shared", "data", "antt");
const present = existsSync(ANTT);
const FILES = present
  ? readdirSync(ANTT)
      .filter((file) => file.endsWith(".csv"))
      .sort()
  : [];

describe.skipIf(!present)(
  `real ANTT files${present ? "" : " (skipped: ../shared/data/antt is not beside this checkout; see ../shared/README.md)"}`,
  () => {
    let pipeline: TestPipeline;
    let storage: TestStorage;
    let database: TestDatabase;
    let files: RunningFileServer;
    let ingest: IngestHandler;
    let deaths: DeathsHandler;
    const summaries = new Map<string, DeathsResult>();

    beforeAll(async () => {
      pipeline = await startTestPipeline(ANTT);
      ({ storage, database, files, ingest, deaths } = pipeline);
    });

    afterAll(async () => {
      await pipeline?.close();
    });

    it("has the 18 files the shared README describes", () => {
      expect(FILES).toHaveLength(18);
    });

    it.each(FILES)("%s: every road's per-vehicle deaths equal an independent computation", async (file) => {
      const source = file.replace(/\.csv$/, "");
      const ingested = await ingest({ url: `${files.baseUrl}/${file}`, source });
      expect(ingested.encoding).toBe("iso-8859-1");
      const summary = await deaths(ingested);
      summaries.set(file, summary);

      const expected = referenceDeaths(await readFile(join(ANTT, file)));
      const rows = await database.db
        .selectFrom("deaths_by_vehicle")
        .selectAll()
        .where("source", "=", source)
        .execute();
      const actual = new Map<string, Record<string, number>>();
      for (const row of rows) {
        const road = actual.get(row.road_name) ?? {};
        road[row.vehicle] = row.number_deaths;
        actual.set(row.road_name, road);
      }
      expect(actual).toEqual(expected.roads);
      expect(summary.deathsByVehicle).toEqual(expected.byVehicle);
      expect(summary.totalDeaths).toBe(expected.totalDeaths);
      expect(summary.rowsAccepted).toBe(expected.accepted);
      expect(summary.rowsRejected).toBe(expected.rejectedLines.length);
      const rejects = (await storage.bytes(summary.keys.rejects))
        .toString("utf8")
        .trimEnd()
        .split("\n")
        .slice(1);
      expect(rejects.map((line) => Number(line.split(",")[0]))).toEqual(expected.rejectedLines);
    });

    it("merges the spellings of one road into one canonical name", () => {
      const roads = (file: string) => {
        const summary = summaries.get(file);
        return summary ? summary.roads : undefined;
      };
      // Counted from the raw files with cut/sort/uniq: CRO spells BR-070/MT also as BR-70/MT; ECO050 has
      // BR-50/MG, Contorno and CONTORNO; ECO101 has three spellings of the Iconha bypass.
      expect(roads("CRO.csv")).toBe(3);
      expect(roads("ECO050.csv")).toBe(4);
      expect(roads("ECO101.csv")).toBe(3);
      expect(roads("VIA_BAHIA.csv")).toBe(8);
    });

    it("only rejects what the data really gets wrong (ViaSul's negative truck counts)", async () => {
      const rejected = [...summaries.entries()].filter(([, summary]) => summary.rowsRejected > 0);
      expect(rejected.map(([file, summary]) => [file, summary.rowsRejected])).toEqual([["VIA_SUL.csv", 21]]);
      const key = summaries.get("VIA_SUL.csv")?.keys.summary ?? "";
      const full = JSON.parse((await storage.bytes(key)).toString("utf8")) as DeathsSummary;
      expect(full.rejects.sample[0]).toMatchObject({ column: "caminhao" });
    });

    it("npm start -- --link <VIA_SUL.csv served locally> prints totals equal to an independent computation", async () => {
      const dataDir = await mkdtemp(join(tmpdir(), "roadtoll-real-"));
      let stdout = "";
      try {
        const code = await runCli(
          [
            "--link",
            `${files.baseUrl}/VIA_SUL.csv`,
            "--data-dir",
            dataDir,
            ...(database.url ? ["--database-url", database.url] : []),
          ],
          {
            stdout: (text) => {
              stdout += text;
            },
            stderr: () => {},
            env: {},
            root: ROOT,
          },
        );
        expect(code).toBe(0);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
      // The table's row: source, rows, rejected, roads, deaths, then deaths by vehicle.
      const row = stdout.split("\n").find((line) => line.startsWith("VIA_SUL "));
      const expected = referenceDeaths(await readFile(join(ANTT, "VIA_SUL.csv")));
      expect(row?.trim().split(/\s+/).slice(4)).toEqual(
        [expected.totalDeaths, ...Object.values(expected.byVehicle)].map(String),
      );
    });
  },
);
