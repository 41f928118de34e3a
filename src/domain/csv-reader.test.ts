import { parse } from "csv-parse/sync";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RoadtollError } from "../errors.js";
import { CsvReader, type Delimiter, detectDelimiter } from "./csv-reader.js";

interface Read {
  fields: string[];
  line: number;
}

/** Reads `chunks` (one reader, pushed in order) and returns every record's fields and starting line. */
function read(chunks: readonly Buffer[], delimiter?: Delimiter): { records: Read[]; lines: number } {
  const records: Read[] = [];
  const reader = new CsvReader({
    file: "t.csv",
    ...(delimiter === undefined ? {} : { delimiter }),
    onRecord: (record) => records.push({ fields: record.texts(), line: record.line }),
  });
  for (const chunk of chunks) reader.push(chunk);
  reader.end();
  return { records, lines: reader.lines };
}

const text = (source: string, delimiter?: Delimiter) => read([Buffer.from(source)], delimiter);

/** Every way of cutting `bytes` in two, plus one byte per chunk. */
function splits(bytes: Buffer): Buffer[][] {
  const ways: Buffer[][] = [[...bytes].map((byte) => Buffer.from([byte]))];
  for (let at = 0; at <= bytes.length; at++) ways.push([bytes.subarray(0, at), bytes.subarray(at)]);
  return ways;
}

function errorFrom(run: () => unknown): RoadtollError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RoadtollError);
    return error as RoadtollError;
  }
  throw new Error("expected a RoadtollError");
}

describe("CsvReader", () => {
  it("reads RFC 4180 quoting: delimiters, doubled quotes and line breaks inside quotes", () => {
    const { records } = text('a;"b;c";"say ""hi""";"two\nlines"\nx;y;z;w\n');
    expect(records).toEqual([
      { fields: ["a", "b;c", 'say "hi"', "two\nlines"], line: 1 },
      { fields: ["x", "y", "z", "w"], line: 3 },
    ]);
  });

  it("reads a bare quote inside an unquoted field as an ordinary character", () => {
    expect(text('a;Defensa ou "submarino";b "c" d\n').records[0]?.fields).toEqual([
      "a",
      'Defensa ou "submarino"',
      'b "c" d',
    ]);
  });

  it("accepts \\n, \\r\\n and \\r line ends, mixed, and counts each as one line", () => {
    const { records, lines } = text("h1;h2\r\na;1\rb;2\nc;3\r\n");
    expect(records).toEqual([
      { fields: ["h1", "h2"], line: 1 },
      { fields: ["a", "1"], line: 2 },
      { fields: ["b", "2"], line: 3 },
      { fields: ["c", "3"], line: 4 },
    ]);
    expect(lines).toBe(4);
  });

  it("skips blank lines but counts them, and reads a last line without a line end", () => {
    const { records, lines } = text("h\n\n\r\nx\n\ny");
    expect(records).toEqual([
      { fields: ["h"], line: 1 },
      { fields: ["x"], line: 4 },
      { fields: ["y"], line: 6 },
    ]);
    expect(lines).toBe(6);
  });

  it("counts line breaks inside quoted fields, so a record's line is where it starts", () => {
    const { records } = text('h;i\n"a\r\nb\rc";1\nnext;2\n');
    expect(records.map((record) => record.line)).toEqual([1, 2, 5]);
    expect(records[1]?.fields).toEqual(["a\r\nb\rc", "1"]);
  });

  it("keeps empty fields, quoted or not, and a trailing delimiter's empty field", () => {
    expect(text('a;;"";\n').records[0]?.fields).toEqual(["a", "", "", ""]);
  });

  it("gives the same records wherever the input is cut, one byte per chunk included", () => {
    const source = Buffer.from('h;"q"\r\n"a;\r\nb";"x""y"\r"z"\r\n\r\nlast;"é"', "utf8");
    const expected = read([source]);
    for (const chunks of splits(source)) expect(read(chunks)).toEqual(expected);
  });

  it("refuses a quoted field that is never closed, naming the line and field where it opens", () => {
    const error = errorFrom(() => text('h;i\nok;1\nx;"never closed\nmore\n'));
    expect(error.name).toBe("CsvFormatError");
    expect(error.where).toEqual({ resource: "t.csv", line: 3, column: "field 2" });
  });

  it("refuses a closing quote followed by anything but a delimiter or line end", () => {
    const error = errorFrom(() => text('h;i\n"ab"c;d\n'));
    expect(error.name).toBe("CsvFormatError");
    expect(error.where).toEqual({ resource: "t.csv", line: 2, column: "field 1" });
    expect(error.message).toContain('followed by "c"');
  });

  it("refuses a record longer than the limit instead of buffering the rest of the file", () => {
    const reader = new CsvReader({ file: "t.csv", maxRecordBytes: 1000, onRecord: () => {} });
    reader.push(Buffer.from('h;i\nx;"'));
    const error = errorFrom(() => {
      for (let i = 0; i < 100; i++) reader.push(Buffer.alloc(100, 0x61));
    });
    expect(error.name).toBe("CsvFormatError");
    expect(error.where).toEqual({ resource: "t.csv", line: 2 });
    expect(error.message).toContain("longer than 1000 bytes");
  });
});

describe("detectDelimiter", () => {
  it.each([
    ["a;b;c\n", 0x3b],
    ["a,b,c\n", 0x2c],
    ["a\tb\tc\n", 0x09],
    ['"a;b","c;d",e\n', 0x2c],
    ["a;b,c\n", 0x3b],
    ["abc\n", 0x3b],
    ["a,b;c;d", 0x3b],
  ])("detects the delimiter of %j", (header, expected) => {
    expect(detectDelimiter(Buffer.from(header), true)).toBe(expected);
  });

  it("waits for the end of the header line", () => {
    expect(detectDelimiter(Buffer.from("a,b"), false)).toBeUndefined();
    expect(detectDelimiter(Buffer.from('"a\nb",c'), false)).toBeUndefined();
  });
});

// Differential: random CSV documents, written with random quoting and line ends, read by the reader and by
// csv-parse (the reference), cut into random chunks. Both must give the records the document was made from.
const DELIMITERS = [";", ",", "\t"] as const;
const EOLS = ["\n", "\r\n", "\r"] as const;
const field = fc.string({
  unit: fc.constantFrom("a", "b", "é", "ç", " ", ";", ",", "\t", '"', "\n", "\r", "1", "-"),
  maxLength: 8,
});
const document = fc.record({
  delimiter: fc.constantFrom(...DELIMITERS),
  eol: fc.constantFrom(...EOLS),
  // Two or more fields: a one-field record that is empty would be a blank line, which both readers skip.
  records: fc.array(fc.array(field, { minLength: 2, maxLength: 6 }), { minLength: 1, maxLength: 12 }),
  quoteAll: fc.boolean(),
  quoteSeed: fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
  finalEol: fc.boolean(),
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
});

function mustQuote(value: string, delimiter: string): boolean {
  return value.startsWith('"') || value.includes(delimiter) || value.includes("\n") || value.includes("\r");
}

/** Writes the document; returns the text and the line each record starts on. */
type Document = typeof document extends fc.Arbitrary<infer T> ? T : never;

function render(doc: Document): {
  source: string;
  lines: number[];
} {
  let source = "";
  let line = 1;
  let k = 0;
  const lines: number[] = [];
  doc.records.forEach((record, r) => {
    lines.push(line);
    source += record
      .map((value) => {
        const quote =
          mustQuote(value, doc.delimiter) || doc.quoteAll || doc.quoteSeed[k++ % doc.quoteSeed.length];
        if (!quote) return value;
        line += (value.match(/\r\n|\r|\n/g) ?? []).length;
        return `"${value.replaceAll('"', '""')}"`;
      })
      .join(doc.delimiter);
    if (r < doc.records.length - 1 || doc.finalEol) source += doc.eol;
    line++;
  });
  return { source, lines };
}

function cut(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((point) => point % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

describe("CsvReader against csv-parse (property)", () => {
  it("yields the records the document was written from, as csv-parse does, wherever it is cut", () => {
    fc.assert(
      fc.property(document, (doc) => {
        const { source, lines } = render(doc);
        const bytes = Buffer.from(source, "utf8");
        const reference = parse(source, {
          delimiter: doc.delimiter,
          relax_quotes: true,
          relax_column_count: true,
          skip_empty_lines: true,
        }) as string[][];
        const delimiter = doc.delimiter.charCodeAt(0) as Delimiter;
        const { records } = read(cut(bytes, doc.cuts), delimiter);
        expect(records.map((record) => record.fields)).toEqual(reference);
        expect(reference).toEqual(doc.records);
        expect(records.map((record) => record.line)).toEqual(lines);
      }),
      { numRuns: 2000 },
    );
  });

  it("hands plain lines whole to onPlainLine, and they split into the records read field by field", () => {
    fc.assert(
      fc.property(document, (doc) => {
        const bytes = Buffer.from(render(doc).source, "utf8");
        const delimiter = doc.delimiter.charCodeAt(0) as Delimiter;
        const chunks = cut(bytes, doc.cuts);
        const records: Read[] = [];
        const reader = new CsvReader({
          file: "t.csv",
          delimiter,
          onRecord: (record) => records.push({ fields: record.texts(), line: record.line }),
          onPlainLine: (data, start, end, line) => {
            const plain = data.subarray(start, end);
            // Plain: no quote, no line break inside, and a LF or CRLF right after.
            expect(/["\r\n]/.test(plain.toString("utf8"))).toBe(false);
            expect(data.toString("latin1", end, end + (data[end] === 0x0d ? 2 : 1))).toMatch(/^\r?\n$/);
            records.push({ fields: plain.toString("utf8").split(doc.delimiter), line });
          },
        });
        for (const chunk of chunks) reader.push(chunk);
        reader.end();
        const fieldByField = read(chunks, delimiter);
        expect(records).toEqual(fieldByField.records);
        expect(reader.lines).toBe(fieldByField.lines);
      }),
      { numRuns: 2000 },
    );
  });

  it("detects the delimiter from a header of two or more plain names", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...DELIMITERS),
        fc.array(fc.stringMatching(/^[a-z_]{1,8}$/), { minLength: 2, maxLength: 25 }),
        (delimiter, names) => {
          const header = Buffer.from(`${names.join(delimiter)}\n1`);
          expect(detectDelimiter(header, false)).toBe(delimiter.charCodeAt(0));
        },
      ),
    );
  });
});
