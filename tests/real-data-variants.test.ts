import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeathsHandler } from "../src/handlers/deaths-handler.js";
import type { IngestHandler } from "../src/handlers/ingest-handler.js";
import type { RunningFileServer } from "../src/local/file-server.js";
import type { DeathsResult } from "../src/pipeline/deaths-step.js";
import { reversed, type VariantOptions, writeVariant } from "./support/csv-variants.js";
import type { TestDatabase } from "./support/database.js";
import { startTestPipeline, type TestPipeline } from "./support/pipeline.js";
import { referenceDeaths } from "./support/reference.js";
import type { TestStorage } from "./support/storage.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const ANTT = join(ROOT, "..", "shared", "data", "antt");
const present = existsSync(ANTT);
/** ViaSul has rejected rows and the `"submarino"` quotes; ECO101 three spellings of one road; CONCER is the largest. */
const FILES = ["VIA_SUL.csv", "ECO101.csv", "CONCER.csv"];

/** Each variant, and how a plain row's line maps to the variant's line (an embedded line break shifts it). */
const VARIANTS: Record<string, { options: VariantOptions; line: (plain: number) => number }> = {
  "every field quoted, CRLF, UTF-8 with BOM": {
    options: { delimiter: ";", eol: "\r\n", quote: "all", encoding: "utf8", bom: true },
    line: (plain) => plain,
  },
  "comma-delimited (decimal km and quotes quoted)": {
    options: { delimiter: ",", eol: "\n", quote: "minimal", encoding: "latin1" },
    line: (plain) => plain,
  },
  "extra quoted column holding ; and a line break, columns reversed": {
    options: {
      delimiter: ";",
      eol: "\n",
      quote: "minimal",
      encoding: "latin1",
      extra: { at: 5, name: "observação", value: (row) => `nota ${row}; "ver"\nanexo` },
      order: reversed,
    },
    // The header is one line; every data row then takes two.
    line: (plain) => 2 + 2 * (plain - 2),
  },
  "tab-delimited, CR line ends": {
    options: { delimiter: "\t", eol: "\r", quote: "minimal", encoding: "latin1" },
    line: (plain) => plain,
  },
};

type Figures = Map<string, Record<string, number>>;

describe.skipIf(!present)(
  `real ANTT files in other CSV forms${present ? "" : " (skipped: ../shared/data/antt is not beside this checkout)"}`,
  () => {
    let pipeline: TestPipeline;
    let storage: TestStorage;
    let database: TestDatabase;
    let files: RunningFileServer;
    let directory: string;
    let ingest: IngestHandler;
    let deaths: DeathsHandler;

    beforeAll(async () => {
      directory = await mkdtemp(join(tmpdir(), "roadtoll-variants-"));
      for (const file of FILES) {
        const lines = (await readFile(join(ANTT, file))).toString("latin1").split("\n");
        if (lines.at(-1) === "") lines.pop();
        const [header, ...rows] = lines.map((line) => line.split(";"));
        await writeFile(join(directory, file), await readFile(join(ANTT, file)));
        for (const [v, { options }] of Object.values(VARIANTS).entries()) {
          await writeFile(join(directory, `v${v}_${file}`), writeVariant(header ?? [], rows, options));
        }
      }
      // Each variant is compared with the plain file run again under its own name: the same bytes, on purpose.
      pipeline = await startTestPipeline(directory, { allowDuplicates: true });
      ({ storage, database, files, ingest, deaths } = pipeline);
    });

    afterAll(async () => {
      await pipeline?.close();
      if (directory) await rm(directory, { recursive: true, force: true });
    });

    async function run(file: string, source: string): Promise<{ summary: DeathsResult; figures: Figures }> {
      const summary = await deaths(await ingest({ url: `${files.baseUrl}/${file}`, source }));
      const rows = await database.db
        .selectFrom("deaths_by_vehicle")
        .selectAll()
        .where("source", "=", source)
        .execute();
      const figures: Figures = new Map();
      for (const row of rows) {
        const road = figures.get(row.road_name) ?? {};
        road[row.vehicle] = row.number_deaths;
        figures.set(row.road_name, road);
      }
      return { summary, figures };
    }

    // Parsed with the reference parser: a reject's row may hold the variant's quoted line break.
    const rejectedLines = async (summary: DeathsResult) =>
      (parse(await storage.bytes(summary.keys.rejects), { from_line: 2 }) as string[][]).map((row) =>
        Number(row[0]),
      );

    describe.each(FILES)("%s", (file) => {
      it.each(Object.keys(VARIANTS).map((name, v) => [name, v] as const))(
        "%s: the same figures as the plain file and the independent computation",
        async (name, v) => {
          const variant = VARIANTS[name] as (typeof VARIANTS)[string];
          const stem = file.replace(/\.csv$/, "");
          const plain = await run(file, `${stem}_plain_${v}`);
          const other = await run(`v${v}_${file}`, `${stem}_v${v}`);
          const expected = referenceDeaths(await readFile(join(ANTT, file)));

          expect(other.figures).toEqual(expected.roads);
          expect(other.figures).toEqual(plain.figures);
          expect(other.summary.deathsByVehicle).toEqual(plain.summary.deathsByVehicle);
          expect(other.summary.totalDeaths).toBe(expected.totalDeaths);
          expect(other.summary.rowsAccepted).toBe(expected.accepted);
          expect(other.summary.rowsRejected).toBe(expected.rejectedLines.length);
          expect(await rejectedLines(other.summary)).toEqual(expected.rejectedLines.map(variant.line));
        },
      );
    });
  },
);
