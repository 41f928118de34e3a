import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PlainLineScanner } from "./plain-line-kernel.js";

/** What the kernel should find on `line` (no quote, CR or LF), worked out by splitting it. */
function reference(line: Buffer, delimiter: number, trecho: number) {
  const fields: Buffer[] = [];
  let from = 0;
  for (let i = 0; i <= line.length; i++) {
    if (i === line.length || line[i] === delimiter) {
      fields.push(line.subarray(from, i));
      from = i + 1;
    }
  }
  const starts: number[] = [];
  let at = 0;
  for (const field of fields) {
    starts.push(at);
    at += field.length + 1;
  }
  const commaFields = fields.flatMap((field, i) =>
    delimiter !== 0x2c && field.includes(0x2c)
      ? [starts[i] as number, (starts[i] as number) + field.length]
      : [],
  );
  const found = trecho >= 0 && trecho < fields.length;
  return {
    cleaned: Buffer.from(line.map((byte) => (byte === delimiter ? 0x2c : byte))),
    from: found ? (starts[trecho] as number) : -1,
    to: found ? (starts[trecho] as number) + (fields[trecho] as Buffer).length : -1,
    commaFields,
  };
}

/** Scans `line` placed at `offset` in a buffer, with `around` before it and after it. */
function scan(line: Buffer, offset: number, around: Buffer, delimiter: number, trecho: number) {
  const data = Buffer.concat([around.subarray(0, offset), line, around]);
  const scanner = new PlainLineScanner();
  scanner.load(data);
  const count = scanner.scan(offset, offset + line.length, delimiter, trecho);
  const shift = (value: number) => (value === -1 ? -1 : value - offset);
  return {
    cleaned: Buffer.from(scanner.bytes.subarray(offset, offset + line.length)),
    from: shift(scanner.notes[0] as number),
    to: shift(scanner.notes[1] as number),
    commaFields: [...scanner.notes.subarray(2, 2 + count)].map(shift),
    before: Buffer.from(scanner.bytes.subarray(0, offset)),
    after: Buffer.from(scanner.bytes.subarray(offset + line.length, data.length)),
    data,
  };
}

describe("PlainLineScanner", () => {
  const delimiters = [0x3b, 0x2c, 0x09];
  // Bytes that matter (delimiters, comma) among others, including UTF-8 continuation bytes; runs of other bytes
  // too, so that fields span the kernel's 16-byte blocks.
  const special = fc.constantFrom(0x3b, 0x2c, 0x09);
  const other = fc.constantFrom(0x61, 0x20, 0x31, 0xc3, 0xa9, 0x2f);
  const lineBytes = fc
    .array(fc.oneof(fc.array(special, { maxLength: 3 }), fc.array(other, { maxLength: 40 })), {
      maxLength: 12,
    })
    .map((runs) => runs.flat());

  it("cleans the line in place and finds trecho and every field holding a comma, as splitting it does", () => {
    fc.assert(
      fc.property(
        lineBytes,
        fc.constantFrom(...delimiters),
        fc.integer({ min: -1, max: 40 }),
        fc.nat({ max: 40 }),
        lineBytes,
        (bytes, delimiter, trecho, offset, aroundBytes) => {
          const line = Buffer.from(bytes);
          const around = Buffer.concat([Buffer.from(aroundBytes), Buffer.alloc(offset, 0x3b)]);
          const got = scan(line, offset, around, delimiter, trecho);
          const { before, after, data, ...found } = got;
          expect(found).toEqual(reference(line, delimiter, trecho));
          // Nothing outside the line changes, though the kernel reads up to 15 bytes past it.
          expect(before).toEqual(data.subarray(0, offset));
          expect(after).toEqual(data.subarray(offset + line.length));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("takes a buffer larger than its first memory, and copies a reused buffer again after reset", () => {
    const scanner = new PlainLineScanner();
    const big = Buffer.alloc(1 << 20, 0x61);
    big.write("x;BR-101/RJ;1,5", big.length - 15, "latin1");
    scanner.load(big);
    expect(scanner.scan(big.length - 15, big.length, 0x3b, 1)).toBe(2);
    expect(scanner.bytes.toString("latin1", big.length - 15, big.length)).toBe("x,BR-101/RJ,1,5");
    expect([...scanner.notes.subarray(0, 4)]).toEqual([
      big.length - 13,
      big.length - 4,
      big.length - 3,
      big.length,
    ]);

    const reused = Buffer.from("a;b");
    scanner.reset();
    scanner.load(reused);
    scanner.scan(0, 3, 0x3b, -1);
    reused.write("c;d");
    scanner.load(reused); // the same buffer, not reset: its first copy stays
    expect(scanner.bytes.toString("latin1", 0, 3)).toBe("a,b");
    scanner.reset();
    scanner.load(reused);
    scanner.scan(0, 3, 0x3b, -1);
    expect(scanner.bytes.toString("latin1", 0, 3)).toBe("c,d");
  });
});
