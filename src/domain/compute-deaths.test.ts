import { Readable, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { RoadtollError } from "../errors.js";
import { cleanCsv } from "./clean-csv.js";
import { computeDeaths, type DeathsComputation } from "./compute-deaths.js";
import { zeroDeaths } from "./deaths-aggregator.js";

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      callback();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

/** Runs the real ingest step on a Latin-1 source and returns the clean CSV it writes. */
async function cleanFrom(source: string): Promise<string> {
  const output = sink();
  await cleanCsv({
    input: Readable.from([Buffer.from(source, "latin1")]),
    file: "src.csv",
    output: output.stream,
  });
  return output.text();
}

async function compute(
  clean: string,
): Promise<{ result: DeathsComputation; rejects: string; ended: boolean }> {
  const rejects = sink();
  const result = await computeDeaths({
    input: Readable.from([Buffer.from(clean, "utf8")]),
    file: "clean.csv",
    rejects: rejects.stream,
    sourceDelimiter: ";",
  });
  return { result, rejects: rejects.text(), ended: rejects.stream.writableFinished };
}

async function computeError(clean: string): Promise<RoadtollError> {
  try {
    await computeDeaths({
      input: Readable.from([Buffer.from(clean, "utf8")]),
      file: "clean.csv",
      rejects: sink().stream,
    });
  } catch (error) {
    expect(error).toBeInstanceOf(RoadtollError);
    return error as RoadtollError;
  }
  throw new Error("expected computeDeaths to fail");
}

// Line numbers are the source's: the rejects must point at them, not at the clean file's lines.
const SOURCE = [
  "Trecho;Automóvel;Bicicleta;Caminhão;Moto;Ônibus;Mortos", // 1
  "BR-70/MT;1;;;1;;2", // 2  BR-070/MT: automovel +2, moto +2, total +2
  "BR-070/MT;;;2;;;1", // 3  BR-070/MT: caminhao +1, total +1
  "BR-070/MT;1;;;;;", // 4  mortos blank = 0: accepted, adds nothing
  "526/BA;;1;;;1;3", // 5  BA-526: bicicleta +3, onibus +3, total +3
  "BA-526;;;;;;4", // 6  BA-526: no vehicle listed → total +4 only
  "BA-526;;;-1;;;5", // 7  rejected: caminhao negative
  "Contorno;1;;;;;x", // 8  rejected: mortos not a number
  "CONTORNO;1;;;;", // 9  rejected: 6 fields, 7 expected
  "", // 10 blank: skipped, not a row
  "CONTORNO;; ; ;1;;1", // 11 CONTORNO: space-only cells are 0; moto +1, total +1
  "BR-116/BA - Cont VC;2;;;;;1;extra", // 12 rejected: 8 fields
  " ;1;;;;;1", // 13 rejected: no road name
  "BR-101/ES;a;;;;;1", // 14 rejected: automovel not a number
  "", // trailing newline
].join("\n");

describe("computeDeaths on a clean file written by cleanCsv", () => {
  it("computes the per-road, per-vehicle deaths", async () => {
    const { result } = await compute(await cleanFrom(SOURCE));
    // BA-526 (lines 5, 6): bicicleta 3, onibus 3, total 3 + 4 = 7.
    // BR-070/MT (lines 2, 3, 4): automovel 2, moto 2, caminhao 1, total 2 + 1 + 0 = 3.
    // CONTORNO (line 11): moto 1, total 1.
    const roads = [
      { road: "BA-526", byVehicle: { ...zeroDeaths(), bicicleta: 3, onibus: 3 }, total: 7 },
      { road: "BR-070/MT", byVehicle: { ...zeroDeaths(), automovel: 2, caminhao: 1, moto: 2 }, total: 3 },
      { road: "CONTORNO", byVehicle: { ...zeroDeaths(), moto: 1 }, total: 1 },
    ];
    expect([...result.roads]).toEqual(roads);
    // Read again (a retried database write does): the same figures, built afresh.
    expect([...result.roads]).toEqual(roads);
    expect(result.roadCount).toBe(3);
    expect(result.totalDeaths).toBe(7 + 3 + 1);
    expect(result.deathsByVehicle).toEqual({
      automovel: 2,
      bicicleta: 3,
      caminhao: 1,
      moto: 2 + 1,
      onibus: 3,
    });
    expect(result.worstRoads.map(({ road }) => road)).toEqual(["BA-526", "BR-070/MT", "CONTORNO"]);
  });

  it("counts rows read, accepted and rejected", async () => {
    const { result } = await compute(await cleanFrom(SOURCE));
    expect(result.rowsRead).toBe(12); // lines 2-9 and 11-14
    expect(result.rowsAccepted).toBe(6); // lines 2, 3, 4, 5, 6, 11
    expect(result.rowsRejected).toBe(6); // lines 7, 8, 9, 12, 13, 14
  });

  it("counts the rejects by column and kind, the pair the rejects object carries, most common first", async () => {
    const { result } = await compute(await cleanFrom(SOURCE));
    expect(result.rejectKinds).toEqual([
      { column: "", kind: "wrong number of fields", count: 2 },
      { column: "automovel", kind: "not a whole number", count: 1 },
      { column: "caminhao", kind: "negative count", count: 1 },
      { column: "mortos", kind: "not a whole number", count: 1 },
      { column: "trecho", kind: "no road name", count: 1 },
    ]);
  });

  it("writes every rejected row to the rejects CSV with its source line, column, kind and reason", async () => {
    const { rejects, ended } = await compute(await cleanFrom(SOURCE));
    expect(rejects).toBe(
      [
        "line,column,kind,reason,row",
        "7,caminhao,negative count,negative count -1,BA-526;;;-1;;;5",
        '8,mortos,not a whole number,"not a whole number: ""x""",Contorno;1;;;;;x',
        '9,,wrong number of fields,"expected 7 fields, found 6",CONTORNO;1;;;;',
        '12,,wrong number of fields,"expected 7 fields, found 8",BR-116/BA - Cont VC;2;;;;;1;extra',
        "13,trecho,no road name,no road name, ;1;;;;;1",
        '14,automovel,not a whole number,"not a whole number: ""a""",BR-101/ES;a;;;;;1',
        "",
      ].join("\n"),
    );
    expect(ended).toBe(true);
  });

  it("echoes the first five rejects in the result", async () => {
    const { result } = await compute(await cleanFrom(SOURCE));
    expect(result.sampleRejects).toEqual([
      { line: 7, column: "caminhao", reason: "negative count -1" },
      { line: 8, column: "mortos", reason: 'not a whole number: "x"' },
      { line: 9, column: undefined, reason: "expected 7 fields, found 6" },
      { line: 12, column: undefined, reason: "expected 7 fields, found 8" },
      { line: 13, column: "trecho", reason: "no road name" },
    ]);
  });

  it("writes only the rejects header and counts nothing for a header-only clean file", async () => {
    const { result, rejects } = await compute(
      await cleanFrom("trecho;automovel;bicicleta;caminhao;moto;onibus;mortos\n"),
    );
    expect(rejects).toBe("line,column,kind,reason,row\n");
    expect([...result.roads]).toEqual([]);
    expect([...result.roadYears]).toEqual([]);
    expect({ ...result, roads: undefined, roadYears: undefined }).toEqual({
      roads: undefined,
      roadYears: undefined,
      roadCount: 0,
      deathsByVehicle: zeroDeaths(),
      worstRoads: [],
      rowsRead: 0,
      rowsAccepted: 0,
      rowsRejected: 0,
      totalDeaths: 0,
      sampleRejects: [],
      rejectKinds: [],
    });
  });

  it("uses the clean file's line when a row's source_line is unreadable", async () => {
    const clean = [
      "trecho,automovel,bicicleta,caminhao,moto,onibus,mortos,source_line,road_name",
      "BR-116/BA,-3,,,,,1,?,BR-116/BA", // clean line 2, source_line "?"
      "",
    ].join("\n");
    const { result, rejects } = await compute(clean);
    expect(result.sampleRejects).toEqual([{ line: 2, column: "automovel", reason: "negative count -3" }]);
    expect(rejects).toBe(
      "line,column,kind,reason,row\n2,automovel,negative count,negative count -3,BR-116/BA;-3;;;;;1\n",
    );
  });
});

describe("computeDeaths on input that is not a clean file", () => {
  it("fails with HeaderError when source_line and road_name are missing", async () => {
    const error = await computeError(
      "trecho,automovel,bicicleta,caminhao,moto,onibus,mortos\nBR-116/BA,1,,,,,1\n",
    );
    expect(error.name).toBe("HeaderError");
    expect(error.where).toEqual({ resource: "clean.csv", line: 1, column: "source_line" });
    expect(error.message).toContain("not a file written by the ingest step");
  });

  it("fails with HeaderError when only road_name is missing", async () => {
    const error = await computeError(
      "trecho,automovel,bicicleta,caminhao,moto,onibus,mortos,source_line\nBR-116/BA,1,,,,,1,2\n",
    );
    expect(error.name).toBe("HeaderError");
    expect(error.where?.column).toBe("road_name");
  });

  it("fails with HeaderError naming a missing required column", async () => {
    const error = await computeError(
      "trecho,automovel,bicicleta,caminhao,moto,onibus,source_line,road_name\n",
    );
    expect(error.name).toBe("HeaderError");
    expect(error.message).toMatch(/missing required column mortos \(found: /);
  });

  it("fails with HeaderError on empty input", async () => {
    const error = await computeError("");
    expect(error.name).toBe("HeaderError");
    expect(error.where).toEqual({ resource: "clean.csv", line: 1 });
    expect(error.message).toContain("the file is empty");
  });

  const HEADER = "trecho,automovel,bicicleta,caminhao,moto,onibus,mortos,source_line,road_name";

  it("fails with CsvFormatError on a quote that is never closed", async () => {
    const error = await computeError(`${HEADER}\n"BR-116/BA,1,,,,,1,2,BR-116/BA\n`);
    expect(error.name).toBe("CsvFormatError");
    expect(error.where).toEqual({ resource: "clean.csv", line: 2, column: "field 1" });
    expect(error.message).toContain("a quoted field is never closed");
  });

  it("fails with CsvFormatError on a closing quote followed by more text", async () => {
    const error = await computeError(`${HEADER}\nBR-116/BA,1,,,,,1,2,BR-116/BA\n"BR"x,1,,,,,1,3,BR\n`);
    expect(error.name).toBe("CsvFormatError");
    expect(error.where).toEqual({ resource: "clean.csv", line: 3, column: "field 1" });
    expect(error.message).toContain('followed by "x" instead of a delimiter or a line end');
  });

  it("reads a bare quote inside an unquoted field as an ordinary character", async () => {
    const { result } = await compute(`${HEADER}\nBR "x",1,,,,,1,3,BR "x"\n`);
    expect([...result.roads].map((road) => road.road)).toEqual(['BR "x"']);
    expect(result.rowsAccepted).toBe(1);
  });
});

describe("computeDeaths: a rejected row as the source had it", () => {
  it("joins the fields with the source's delimiter, quoting only what that delimiter needs", async () => {
    const source =
      'trecho,automovel,bicicleta,caminhao,moto,onibus,mortos,obs\nBR-116/BA,-1,,,,,1,"a,b ""c"""\n';
    const rejects = sink();
    await computeDeaths({
      input: Readable.from([Buffer.from(await cleanFrom(source), "utf8")]),
      file: "clean.csv",
      rejects: rejects.stream,
      sourceDelimiter: ",",
    });
    expect(rejects.text()).toBe(
      'line,column,kind,reason,row\n2,automovel,negative count,negative count -1,"BR-116/BA,-1,,,,,1,""a,b """"c"""""""\n',
    );
  });
});
