import { createHash } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { parse } from "csv-parse/sync";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RoadtollError } from "../errors.js";
import { type CleanCsvResult, cleanCsv } from "./clean-csv.js";
import { canonicalRoadName } from "./road-name.js";

/** A Writable that keeps every byte written to it. */
function sink(): { stream: Writable; bytes: () => Buffer; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      callback();
    },
  });
  return { stream, bytes: () => Buffer.concat(chunks), text: () => Buffer.concat(chunks).toString("utf8") };
}

async function clean(
  chunks: readonly Buffer[],
): Promise<{ result: CleanCsvResult; output: string; raw: Buffer; outputBytes: number }> {
  const output = sink();
  const raw = sink();
  const result = await cleanCsv({
    input: Readable.from(chunks),
    file: "src.csv",
    raw: raw.stream,
    output: output.stream,
  });
  return { result, output: output.text(), raw: raw.bytes(), outputBytes: output.bytes().length };
}

async function cleanError(chunks: readonly Buffer[]): Promise<RoadtollError> {
  try {
    await cleanCsv({ input: Readable.from(chunks), file: "src.csv", output: sink().stream });
  } catch (error) {
    expect(error).toBeInstanceOf(RoadtollError);
    return error as RoadtollError;
  }
  throw new Error("expected cleanCsv to fail");
}

const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

// A reduced ANTT file (the pipeline needs only trecho, the five vehicles and mortos), with the quirks of the real
// ones: ISO-8859-1, `;`, accented mixed-case header, unquoted double quotes, decimal-comma km, a space-only cell,
// a short row, a blank line in the middle and a blank trailing line.
const SOURCE = [
  "Data;Km;Trecho;Tipo de Acidente;Automóvel;Bicicleta;Caminhão;Moto;Ônibus;MORTOS ", // line 1
  '01/03/2021;12,5;BR-70/MT;Choque - Defensa, barreira ou "submarino";1;;;1;;2', // line 2
  "02/03/2021;7;Contorno de Uberlândia/MG;Colisão - Traseira;2; ;1;;;1", // line 3
  "03/03/2021;9;526/BA;Tombamento;1;;;;", // line 4: 9 fields, mortos missing
  "", // line 5: blank
  "04/03/2021;120,0;BR-116/BA - Cont VC;Saída de pista;;;;;;", // line 6
  "", // line 7: blank trailing line
].join("\n");

const EXPECTED_CLEAN = [
  "data,km,trecho,tipo_de_acidente,automovel,bicicleta,caminhao,moto,onibus,mortos,source_line,road_name",
  '01/03/2021,"12,5",BR-70/MT,"Choque - Defensa, barreira ou ""submarino""",1,,,1,,2,2,BR-070/MT',
  "02/03/2021,7,Contorno de Uberlândia/MG,Colisão - Traseira,2, ,1,,,1,3,CONTORNO DE UBERLANDIA/MG",
  "03/03/2021,9,526/BA,Tombamento,1,,,,,4,BA-526",
  '04/03/2021,"120,0",BR-116/BA - Cont VC,Saída de pista,,,,,,,6,BR-116/BA',
  "",
].join("\n");

describe("cleanCsv", () => {
  it("writes the exact clean CSV for a Latin-1 source with every quirk", async () => {
    const input = Buffer.from(SOURCE, "latin1");
    const { result, output } = await clean([input]);
    expect(output).toBe(EXPECTED_CLEAN);
    expect(result.encoding).toBe("iso-8859-1");
    expect(result.rows).toBe(4); // lines 2, 3, 4, 6; the header and blank lines are not rows
  });

  it("reports size and SHA-256 of the source bytes, and the clean size", async () => {
    const input = Buffer.from(SOURCE, "latin1");
    const { result, outputBytes } = await clean([input]);
    expect(result.bytes).toBe(input.length);
    expect(result.sha256).toBe(sha256(input));
    expect(result.cleanBytes).toBe(Buffer.byteLength(EXPECTED_CLEAN, "utf8"));
    expect(result.cleanBytes).toBe(outputBytes);
  });

  it("reports the normalised columns", async () => {
    const { result } = await clean([Buffer.from(SOURCE, "latin1")]);
    expect(result.columns).toEqual([
      "data",
      "km",
      "trecho",
      "tipo_de_acidente",
      "automovel",
      "bicicleta",
      "caminhao",
      "moto",
      "onibus",
      "mortos",
    ]);
  });

  it("copies the exact source bytes to the raw sink", async () => {
    const input = Buffer.from(SOURCE, "latin1");
    // Three chunks cut at odd places, including inside the header.
    const { raw } = await clean([input.subarray(0, 7), input.subarray(7, 200), input.subarray(200)]);
    expect(raw.equals(input)).toBe(true);
  });

  it("hands onDigest the source's SHA-256 at its end; a throw there fails the cleaning before either copy ends", async () => {
    const source = Buffer.from(SOURCE, "latin1");
    const seen: string[] = [];
    const passed = await cleanCsv({
      input: Readable.from([source]),
      file: "src.csv",
      output: sink().stream,
      onDigest: (sha) => void seen.push(sha),
    });
    expect(seen).toEqual([sha256(source)]);
    expect(passed.sha256).toBe(sha256(source));

    const raw = sink();
    const output = sink();
    const ended: string[] = [];
    raw.stream.on("finish", () => ended.push("raw"));
    output.stream.on("finish", () => ended.push("clean"));
    const refusal = new Error("same as last time");
    await expect(
      cleanCsv({
        input: Readable.from([source]),
        file: "src.csv",
        raw: raw.stream,
        output: output.stream,
        onDigest: () => {
          throw refusal;
        },
      }),
    ).rejects.toBe(refusal);
    expect(ended).toEqual([]);
  });

  it("waits for a slow raw sink and still copies every byte", async () => {
    const input = Buffer.from(SOURCE, "latin1");
    const received: Buffer[] = [];
    const slowRaw = new Writable({
      highWaterMark: 1, // every write reports back-pressure, so cleanCsv must wait for "drain"
      write(chunk: Buffer, _encoding, callback) {
        received.push(chunk);
        setImmediate(callback);
      },
    });
    const output = sink();
    const chunks = [input.subarray(0, 50), input.subarray(50, 100), input.subarray(100)];
    const result = await cleanCsv({
      input: Readable.from(chunks),
      file: "src.csv",
      raw: slowRaw,
      output: output.stream,
    });
    expect(Buffer.concat(received).equals(input)).toBe(true);
    expect(slowRaw.writableFinished).toBe(true);
    expect(output.text()).toBe(EXPECTED_CLEAN);
    expect(result.rows).toBe(4);
  });

  it("gives the same clean file when the source arrives one byte per chunk", async () => {
    const input = Buffer.from(SOURCE, "latin1");
    const { result, output, raw } = await clean([...input].map((byte) => Buffer.from([byte])));
    expect(output).toBe(EXPECTED_CLEAN);
    expect(result.rows).toBe(4);
    expect(result.sha256).toBe(sha256(input));
    expect(raw.equals(input)).toBe(true);
  });

  it("reads a UTF-8 source with BOM, split one byte per chunk, to the same clean file", async () => {
    const input = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(SOURCE, "utf8")]);
    const { result, output, raw } = await clean([...input].map((byte) => Buffer.from([byte])));
    expect(result.encoding).toBe("utf-8-bom");
    expect(output).toBe(EXPECTED_CLEAN);
    expect(result.bytes).toBe(input.length);
    expect(result.sha256).toBe(sha256(input));
    expect(raw.equals(input)).toBe(true);
  });

  it("writes only the header for a header-only source", async () => {
    const { result, output } = await clean([
      Buffer.from("trecho;automovel;bicicleta;caminhao;moto;onibus;mortos\n"),
    ]);
    expect(output).toBe("trecho,automovel,bicicleta,caminhao,moto,onibus,mortos,source_line,road_name\n");
    expect(result.rows).toBe(0);
    expect(result.encoding).toBe("utf-8");
  });

  it("streams a source larger than its 64 KiB blocks without losing or reordering rows", async () => {
    // 3,000 rows of about 40 bytes: about 120 KB, so the output is flushed in more than one block.
    const header = "trecho;automovel;bicicleta;caminhao;moto;onibus;mortos";
    const lines = [header];
    const expected = ["trecho,automovel,bicicleta,caminhao,moto,onibus,mortos,source_line,road_name"];
    for (let i = 0; i < 3000; i++) {
      lines.push(`BR-${i % 7}/MG (Acesso ${i});${i % 3};;;;;${i % 5}`);
      expected.push(`BR-${i % 7}/MG (Acesso ${i}),${i % 3},,,,,${i % 5},${i + 2},BR-00${i % 7}/MG`);
    }
    const input = Buffer.from(`${lines.join("\n")}\n`, "latin1");
    const { result, output } = await clean([input.subarray(0, 50_000), input.subarray(50_000)]);
    expect(result.rows).toBe(3000);
    expect(output).toBe(`${expected.join("\n")}\n`);
    expect(result.cleanBytes).toBe(Buffer.byteLength(output));
  });

  it("fails with HeaderError naming mortos when the header lacks it", async () => {
    const error = await cleanError([
      Buffer.from("trecho;automovel;bicicleta;caminhao;moto;onibus\nBR-116/BA;1;;;;\n"),
    ]);
    expect(error.name).toBe("HeaderError");
    expect(error.where).toEqual({ resource: "src.csv", line: 1 });
    expect(error.message).toMatch(/missing required column mortos \(found: /);
  });

  it("fails with HeaderError on empty input", async () => {
    const error = await cleanError([]);
    expect(error.name).toBe("HeaderError");
    expect(error.where).toEqual({ resource: "src.csv", line: 1 });
    expect(error.message).toContain("the file is empty");
  });

  it("fails with HeaderError on input of only blank lines", async () => {
    const error = await cleanError([Buffer.from("\n\n\n")]);
    expect(error.name).toBe("HeaderError");
    expect(error.message).toContain("the file is empty");
  });

  it("fails with EncodingError on a UTF-16 source", async () => {
    const error = await cleanError([Buffer.from([0xff, 0xfe, 0x74, 0x00, 0x72, 0x00])]);
    expect(error.name).toBe("EncodingError");
  });
});

// Differential: random sources (any delimiter, fields holding delimiters, commas, quotes and line breaks, quoted
// or not, short and long rows, blank lines), cut anywhere, cleaned, then read back by csv-parse. Each row must
// be the source row's fields, its line and its road, whichever of the cleaner's two paths (a plain line copied
// whole, or a record rewritten field by field) wrote it.
describe("cleanCsv against csv-parse (property)", () => {
  const COLUMNS = ["automovel", "bicicleta", "caminhao", "moto", "onibus", "mortos"];
  const unit = fc.constantFrom("a", "B", "é", " ", ";", ",", "\t", '"', "\n", "\r\n", "1", "-", "/");
  // Long values too, so that lines span several of the plain-line kernel's 16-byte blocks.
  const value = fc.oneof(fc.string({ unit, maxLength: 6 }), fc.string({ unit, maxLength: 40 }));
  const source = fc.record({
    trechoAt: fc.nat({ max: COLUMNS.length }),
    delimiter: fc.constantFrom(";", ",", "\t"),
    eol: fc.constantFrom("\n", "\r\n"),
    rows: fc.array(
      fc.oneof(
        fc.array(value, { minLength: 2, maxLength: 9 }),
        fc.constant(null), // a blank line
      ),
      { minLength: 1, maxLength: 10 },
    ),
    quoteAll: fc.boolean(),
    cuts: fc.array(fc.nat(), { maxLength: 5 }),
  });

  it("writes every row's fields, line and road, wherever the source is cut", async () => {
    await fc.assert(
      fc.asyncProperty(source, async ({ trechoAt, delimiter, eol, rows, quoteAll, cuts }) => {
        const HEADER = COLUMNS.toSpliced(trechoAt, 0, "trecho");
        const quote = (cell: string) =>
          quoteAll || /["\r\n]/.test(cell) || cell.includes(delimiter)
            ? `"${cell.replaceAll('"', '""')}"`
            : cell;
        let text = `${HEADER.join(delimiter)}${eol}`;
        let line = 2;
        const expected: string[][] = [[...HEADER, "source_line", "road_name"]];
        for (const row of rows) {
          if (row === null) {
            text += eol;
            line++;
            continue;
          }
          text += `${row.map(quote).join(delimiter)}${eol}`;
          expected.push([...row, String(line), canonicalRoadName(row[trechoAt] ?? "")]);
          line += 1 + row.join("").split(/\r\n|\n/).length - 1;
        }
        const bytes = Buffer.from(text, "utf8");
        const points = [...new Set(cuts.map((at) => at % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...points].map((at, i) => bytes.subarray(at, points[i] ?? bytes.length));
        const { output } = await clean(chunks);
        expect(parse(output, { relax_column_count: true })).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});
