import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PlainRowKernel } from "./plain-line-kernel.js";

const COMMA = 0x2c;
/** Where the kernel's memory holds the loaded buffer (plain-line-kernel.ts). */
const INPUT_AT = 16 + 256 * 136;

/** Splits `line` on `delimiter`. */
function split(line: Buffer, delimiter: number): { start: number; bytes: Buffer }[] {
  const fields: { start: number; bytes: Buffer }[] = [];
  let from = 0;
  for (let i = 0; i <= line.length; i++) {
    if (i === line.length || line[i] === delimiter) {
      fields.push({ start: from, bytes: line.subarray(from, i) });
      from = i + 1;
    }
  }
  return fields;
}

/**
 * The row the kernel should write for `line`, worked out by splitting it: fields joined by commas, those holding
 * a comma quoted, `,line,`, then the road and a LF when known (`road`: undefined when the caller must add it).
 */
function referenceRow(line: Buffer, delimiter: number, number: number, road?: Buffer) {
  const fields = split(line, delimiter).map(({ bytes }) =>
    bytes.includes(COMMA) ? `"${bytes.toString("latin1")}"` : bytes.toString("latin1"),
  );
  return Buffer.concat([
    Buffer.from(`${fields.join(",")},${number},`, "latin1"),
    ...(road ? [road, Buffer.from("\n")] : []),
  ]);
}

describe("PlainRowKernel", () => {
  const delimiters = [0x3b, COMMA, 0x09];
  // Bytes that matter (delimiters, comma) among others, including UTF-8 continuation bytes; runs of other bytes
  // too, so that fields span the kernel's 16-byte blocks.
  const special = fc.constantFrom(0x3b, COMMA, 0x09);
  const other = fc.constantFrom(0x61, 0x20, 0x31, 0xc3, 0xa9, 0x2f);
  const lineBytes = fc
    .array(fc.oneof(fc.array(special, { maxLength: 3 }), fc.array(other, { maxLength: 40 })), {
      maxLength: 12,
    })
    .map((runs) => Buffer.from(runs.flat()));

  it("writes each line's row as splitting it does, with a road only as it was remembered for that trecho", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ line: lineBytes, remember: fc.boolean() }), { minLength: 1, maxLength: 6 }),
        fc.constantFrom(...delimiters),
        fc.integer({ min: -1, max: 12 }),
        fc.nat({ max: 40 }),
        fc.nat({ max: 2 ** 31 - 2 }),
        (lines, delimiter, trecho, offset, firstLine) => {
          const data = Buffer.concat([
            Buffer.alloc(offset, 0x3b),
            ...lines.flatMap(({ line }) => [line, Buffer.from("\n")]),
          ]);
          const kernel = new PlainRowKernel();
          kernel.load(data);
          const roads = new Map<string, Buffer>();
          let start = offset;
          lines.forEach(({ line, remember }, i) => {
            const number = firstLine + i;
            const field = trecho >= 0 ? split(line, delimiter)[trecho] : undefined;
            const check = () => {
              const written = kernel.row(start, start + line.length, delimiter, trecho, number);
              // A road from the kernel is the one remembered for this trecho; without one, the caller adds it.
              const road = field ? roads.get(field.bytes.toString("latin1")) : Buffer.alloc(0);
              const expected = referenceRow(line, delimiter, number, written > 0 ? road : undefined);
              expect(written).toBe(written > 0 ? expected.length : -expected.length);
              if (!field) expect(written).toBeGreaterThan(0);
              expect(kernel.bytes.subarray(kernel.rowAt, kernel.rowAt + expected.length)).toEqual(expected);
              expect(kernel.trechoStart).toBe(field ? start + field.start : -1);
              if (field) expect(kernel.trechoEnd).toBe(start + field.start + field.bytes.length);
              // The loaded line is left as it was.
              expect(kernel.bytes.subarray(INPUT_AT + start, INPUT_AT + start + line.length)).toEqual(line);
              return written;
            };
            if (check() < 0 && field && remember) {
              const road = Buffer.from(`"R ${field.bytes.toString("latin1")}"`, "latin1");
              kernel.remember(road);
              roads.set(field.bytes.toString("latin1"), road);
              // Remembered, the same line gets its road, unless the trecho or its road is too long to keep.
              expect(check() > 0).toBe(field.bytes.length <= 64 && road.length <= 64);
            }
            start += line.length + 1;
          });
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("keeps the roads of many trechos at once", () => {
    const kernel = new PlainRowKernel();
    const trechos = [
      "BR-101/RJ",
      "BR-116/SP",
      "BR-116/RJ",
      "BR-040/MG",
      "BR-050/GO",
      "Contorno de Uberlândia/MG",
    ];
    const data = Buffer.from(trechos.map((trecho) => `1;${trecho};2,5\n`).join(""), "latin1");
    const lines = trechos.map((_, i) => {
      const start = data.indexOf(`1;${trechos[i]}`, 0, "latin1");
      return { start, end: data.indexOf("\n", start) };
    });
    kernel.load(data);
    for (const { start, end } of lines) {
      expect(kernel.row(start, end, 0x3b, 1, 1)).toBeLessThan(0);
      const road = Buffer.from(
        data.toString("latin1", kernel.trechoStart, kernel.trechoEnd).toUpperCase(),
        "latin1",
      );
      kernel.remember(road);
    }
    for (const [i, { start, end }] of lines.entries()) {
      const row = `1,${trechos[i]},"2,5",2,${trechos[i]?.toUpperCase()}\n`;
      expect(kernel.row(start, end, 0x3b, 1, 2)).toBe(Buffer.byteLength(row, "latin1"));
      expect(kernel.bytes.toString("latin1", kernel.rowAt, kernel.rowAt + row.length)).toBe(row);
    }
  });

  it("tells apart two trechos of one length and the same first 16 bytes (one slot), by the bytes after", () => {
    const kernel = new PlainRowKernel();
    const data = Buffer.from("1;Rodovia Presidente Dutra/SP;2\n1;Rodovia Presidente Dutra/RJ;2\n", "latin1");
    kernel.load(data);
    const sp = { start: 0, end: 31 };
    const rj = { start: 32, end: 63 };
    const row = ({ start, end }: { start: number; end: number }) => {
      const written = kernel.row(start, end, 0x3b, 1, 1);
      return written < 0 ? undefined : kernel.bytes.toString("latin1", kernel.rowAt, kernel.rowAt + written);
    };
    expect(row(sp)).toBeUndefined();
    kernel.remember(Buffer.from("SP"));
    expect(row(sp)).toBe("1,Rodovia Presidente Dutra/SP,2,1,SP\n");
    expect(row(rj)).toBeUndefined();
    kernel.remember(Buffer.from("RJ"));
    expect(row(rj)).toBe("1,Rodovia Presidente Dutra/RJ,2,1,RJ\n");
    expect(row(sp)).toBeUndefined();
  });

  it("repeats the remembered road for the same trecho, and never remembers one too long to keep", () => {
    const kernel = new PlainRowKernel();
    const long = "x".repeat(300);
    const data = Buffer.from(`1;BR-101/RJ;2,5\n1;BR-101/RJ;2,5\n1;${long};2\n1;${long};2\n`, "latin1");
    kernel.load(data);
    const road = Buffer.from("BR-101/RJ");
    expect(kernel.row(0, 15, 0x3b, 1, 7)).toBe(-'1,BR-101/RJ,"2,5",7,'.length);
    kernel.remember(road);
    const row = '1,BR-101/RJ,"2,5",8,BR-101/RJ\n';
    expect(kernel.row(16, 31, 0x3b, 1, 8)).toBe(row.length);
    expect(kernel.bytes.toString("latin1", kernel.rowAt, kernel.rowAt + row.length)).toBe(row);
    expect(kernel.row(32, 336, 0x3b, 1, 9)).toBeLessThan(0);
    kernel.remember(road);
    expect(kernel.row(337, 641, 0x3b, 1, 10)).toBeLessThan(0);
  });

  it("takes a buffer larger than its first memory, and copies a reused buffer again after reset", () => {
    const kernel = new PlainRowKernel();
    const big = Buffer.alloc(1 << 20, 0x61);
    big.write("x;BR-101/RJ;1,5", big.length - 15, "latin1");
    kernel.load(big);
    const row = 'x,BR-101/RJ,"1,5",3,\n';
    expect(kernel.row(big.length - 15, big.length, 0x3b, -1, 3)).toBe(row.length);
    expect(kernel.bytes.toString("latin1", kernel.rowAt, kernel.rowAt + row.length)).toBe(row);

    const reused = Buffer.from("a;b");
    kernel.reset();
    kernel.load(reused);
    reused.write("c;d");
    kernel.load(reused); // the same buffer, not reset: its first copy stays
    expect(kernel.row(0, 3, 0x3b, -1, 1)).toBe(7);
    expect(kernel.bytes.toString("latin1", kernel.rowAt, kernel.rowAt + 7)).toBe("a,b,1,\n");
    kernel.reset();
    kernel.load(reused);
    kernel.row(0, 3, 0x3b, -1, 1);
    expect(kernel.bytes.toString("latin1", kernel.rowAt, kernel.rowAt + 7)).toBe("c,d,1,\n");
  });
});
