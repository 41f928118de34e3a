import { Readable, Writable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cleanCsv } from "../src/domain/clean-csv.js";
import { computeDeaths } from "../src/domain/compute-deaths.js";
import { reversed, type VariantOptions, writeVariant } from "./support/csv-variants.js";
import { referenceRoad, VEHICLE_NAMES } from "./support/reference.js";

// Property: the same accidents, written in any ordinary CSV form, give the same figures through the real
// ingest and deaths code, and those figures equal a computation made directly on the generated rows.
const HEADER = ["data", "km", "trecho", ...VEHICLE_NAMES, "outros", "mortos", "tipo_de_acidente"];
const TRECHO = HEADER.indexOf("trecho");
const MORTOS = HEADER.indexOf("mortos");

const FORMS: Record<string, VariantOptions> = {
  "semicolon, ISO-8859-1": { delimiter: ";", eol: "\n", quote: "minimal", encoding: "latin1" },
  "comma, CRLF": { delimiter: ",", eol: "\r\n", quote: "minimal", encoding: "latin1" },
  "all quoted, UTF-8 BOM": { delimiter: ";", eol: "\n", quote: "all", encoding: "utf8", bom: true },
  "tab, CR": { delimiter: "\t", eol: "\r", quote: "minimal", encoding: "utf8" },
  "extra column, reversed": {
    delimiter: ",",
    eol: "\n",
    quote: "minimal",
    encoding: "latin1",
    extra: { at: 2, name: "obs", value: (row) => `a;b,"c"\n${row}` },
    order: reversed,
  },
};

const text = fc.string({
  unit: fc.constantFrom("a", "é", " ", ";", ",", "\t", '"', "\n", "\r", "1"),
  maxLength: 6,
});
const count = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("", " ", "0", "1", "2", "12") },
  { weight: 1, arbitrary: fc.constantFrom("-1", "x", "1,5") },
);
const road = fc.constantFrom(
  "BR-116/BA",
  "BR-70/MT",
  "BR-070/MT",
  "526/BA",
  "Contorno",
  "Ponte; Rio",
  'Via "x"',
  "",
  " ",
);
const row = fc
  .record({
    data: text,
    km: fc.constantFrom("120,5", "3", ""),
    trecho: road,
    counts: fc.array(count, { minLength: 7, maxLength: 7 }),
    tipo: text,
    ragged: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 0, -1, 1),
  })
  .map(({ data, km, trecho, counts, tipo, ragged }) => {
    const cells = [data, km, trecho, ...counts, tipo];
    if (ragged < 0) cells.pop();
    if (ragged > 0) cells.push("extra");
    return cells;
  });

interface Figures {
  roads: Record<string, Record<string, number>>;
  accepted: number;
  rejected: number;
  totalDeaths: number;
}

/** The metric on the generated rows, as docs/numbers.md states it. */
function expected(rows: readonly string[][]): Figures {
  const figures: Figures = { roads: {}, accepted: 0, rejected: 0, totalDeaths: 0 };
  const number = (cell: string | undefined) => {
    const trimmed = (cell ?? "").trim();
    return trimmed === "" ? 0 : /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
  };
  for (const cells of rows) {
    const name = referenceRoad(cells[TRECHO] ?? "");
    const deaths = number(cells[MORTOS]);
    const vehicles = VEHICLE_NAMES.map((vehicle) => number(cells[HEADER.indexOf(vehicle)]));
    if (
      cells.length !== HEADER.length ||
      name === "" ||
      deaths === undefined ||
      vehicles.includes(undefined)
    ) {
      figures.rejected++;
      continue;
    }
    figures.accepted++;
    figures.totalDeaths += deaths;
    const totals = figures.roads[name] ?? Object.fromEntries(VEHICLE_NAMES.map((v) => [v, 0]));
    figures.roads[name] = totals;
    VEHICLE_NAMES.forEach((vehicle, i) => {
      if ((vehicles[i] ?? 0) > 0) totals[vehicle] = (totals[vehicle] ?? 0) + deaths;
    });
  }
  return figures;
}

const discard = () =>
  new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });

/** Chunks of a random size, so records are cut anywhere. */
function chunks(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

async function pipelineFigures(source: Buffer, chunkSize: number): Promise<Figures> {
  const clean: Buffer[] = [];
  await cleanCsv({
    input: Readable.from(chunks(source, chunkSize)),
    file: "in.csv",
    output: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        clean.push(chunk);
        callback();
      },
    }),
  });
  const result = await computeDeaths({
    input: Readable.from(chunks(Buffer.concat(clean), chunkSize)),
    file: "clean.csv",
    rejects: discard(),
  });
  return {
    roads: Object.fromEntries([...result.roads].map(({ road, byVehicle }) => [road, { ...byVehicle }])),
    accepted: result.rowsAccepted,
    rejected: result.rowsRejected,
    totalDeaths: result.totalDeaths,
  };
}

describe("the pipeline on one table written in different CSV forms (property)", () => {
  it("gives identical figures in every form, equal to the metric computed on the rows", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 300 }),
        async (rows, size) => {
          const want = expected(rows);
          for (const [form, options] of Object.entries(FORMS)) {
            const got = await pipelineFigures(writeVariant(HEADER, rows, options), size);
            expect({ form, ...got }).toEqual({ form, ...want });
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
