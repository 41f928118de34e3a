import { isUtf8 } from "node:buffer";
import { describe, expect, it } from "vitest";
import { RoadtollError } from "../errors.js";
import { Transcoder } from "./encoding.js";

const KIB = 1024;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Feeds every chunk, then ends, and returns the whole UTF-8 output as text with the encoding settled on. */
function transcode(chunks: readonly Buffer[], file = "in.csv"): { text: string; encoding: string } {
  const transcoder = new Transcoder(file);
  const out: Buffer[] = [];
  // Copied: the transcoder reuses its output buffer from one call to the next.
  for (const chunk of chunks) out.push(Buffer.from(transcoder.push(chunk)));
  out.push(Buffer.from(transcoder.end()));
  const bytes = Buffer.concat(out);
  // The output must be UTF-8 whatever the input was.
  expect(isUtf8(bytes)).toBe(true);
  return { text: bytes.toString("utf8"), encoding: transcoder.detected };
}

function bytewise(buffer: Buffer): Buffer[] {
  return [...buffer].map((byte) => Buffer.from([byte]));
}

function chunked(buffer: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < buffer.length; at += size) chunks.push(buffer.subarray(at, at + size));
  return chunks;
}

/** Runs `run` and returns the RoadtollError it throws; fails the test if it throws nothing or something else. */
function roadtollErrorFrom(run: () => unknown): RoadtollError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RoadtollError);
    return error as RoadtollError;
  }
  throw new Error("expected a RoadtollError, nothing was thrown");
}

describe("Transcoder: detection", () => {
  it("reports pure ASCII as utf-8 and passes it through unchanged", () => {
    const text = "data;trecho;mortos\n01/01/2021;BR-116/BA;1\n";
    expect(transcode([Buffer.from(text, "ascii")])).toEqual({ text, encoding: "utf-8" });
  });

  it("strips a UTF-8 BOM and reports utf-8-bom", () => {
    const input = Buffer.concat([BOM, Buffer.from("Colisão;vítima\n", "utf8")]);
    expect(transcode([input])).toEqual({ text: "Colisão;vítima\n", encoding: "utf-8-bom" });
  });

  it("strips a UTF-8 BOM that arrives one byte per chunk", () => {
    const input = Buffer.concat([BOM, Buffer.from("Ônibus\n", "utf8")]);
    expect(transcode(bytewise(input))).toEqual({ text: "Ônibus\n", encoding: "utf-8-bom" });
  });

  it("decodes ISO-8859-1 bytes and reports iso-8859-1", () => {
    // ã = 0xE3 and í = 0xED: 0xE3 0x6F is not a valid UTF-8 sequence, so the window is Latin-1.
    const input = Buffer.from("Colisão;vítima", "latin1");
    expect(input.length).toBe(14); // one byte per character
    expect(transcode([input])).toEqual({ text: "Colisão;vítima", encoding: "iso-8859-1" });
  });

  it("decodes ISO-8859-1 fed one byte at a time", () => {
    const input = Buffer.from("Caminhão;Ônibus\nSaída de pista\n", "latin1");
    expect(transcode(bytewise(input))).toEqual({
      text: "Caminhão;Ônibus\nSaída de pista\n",
      encoding: "iso-8859-1",
    });
  });

  it("decodes UTF-8 multi-byte sequences split across chunk boundaries (one byte per chunk)", () => {
    // ã, í, Ô are 2 bytes each; € is 3 bytes: every one of them is cut between chunks.
    const text = "Colisão;vítima\nÔnibus €\n";
    expect(transcode(bytewise(Buffer.from(text, "utf8")))).toEqual({ text, encoding: "utf-8" });
  });

  it("decodes UTF-8 cut in the middle of a sequence at an arbitrary chunk size", () => {
    const text = "ação ".repeat(5000); // 7 bytes per repeat, 35,000 bytes: 3 KiB chunks cut sequences
    expect(transcode(chunked(Buffer.from(text, "utf8"), 3 * KIB))).toEqual({ text, encoding: "utf-8" });
  });
});

describe("Transcoder: first non-ASCII byte after more than 64 KiB of ASCII", () => {
  const ascii = "x".repeat(99).concat("\n").repeat(700); // 70,000 bytes of ASCII, more than 64 KiB (65,536)
  const tail = "Colisão;vítima\n";

  it("detects UTF-8 in a single chunk", () => {
    expect(transcode([Buffer.from(ascii + tail, "utf8")])).toEqual({ text: ascii + tail, encoding: "utf-8" });
  });

  it("detects UTF-8 in 1 KiB chunks", () => {
    const input = Buffer.from(ascii + tail, "utf8");
    expect(transcode(chunked(input, KIB))).toEqual({ text: ascii + tail, encoding: "utf-8" });
  });

  it("detects ISO-8859-1 in a single chunk", () => {
    expect(transcode([Buffer.from(ascii + tail, "latin1")])).toEqual({
      text: ascii + tail,
      encoding: "iso-8859-1",
    });
  });

  it("detects ISO-8859-1 in 1 KiB chunks", () => {
    const input = Buffer.from(ascii + tail, "latin1");
    expect(transcode(chunked(input, KIB))).toEqual({ text: ascii + tail, encoding: "iso-8859-1" });
  });

  it("detects ISO-8859-1 in 64 KiB chunks, as fs.createReadStream delivers them", () => {
    const input = Buffer.from(ascii + tail, "latin1");
    expect(transcode(chunked(input, 64 * KIB))).toEqual({ text: ascii + tail, encoding: "iso-8859-1" });
  });

  // Regression: 0xE9 is also a UTF-8 lead byte; an unfinished sequence at the window's end must not count as
  // evidence for UTF-8.
  it("detects ISO-8859-1 when a window ends exactly on its first Latin-1 byte", () => {
    const first = Buffer.concat([Buffer.alloc(64 * KIB - 1, 0x61), Buffer.from([0xe9])]);
    const result = transcode([first, Buffer.from("\nb\n", "latin1")]);
    expect(result).toEqual({ text: `${"a".repeat(64 * KIB - 1)}é\nb\n`, encoding: "iso-8859-1" });
  });
});

describe("Transcoder: refused input", () => {
  it("refuses a UTF-16 LE BOM with EncodingError at line 1", () => {
    const error = roadtollErrorFrom(() =>
      transcode([Buffer.from([0xff, 0xfe, 0x61, 0x00, 0x0a, 0x00])], "u.csv"),
    );
    expect(error.name).toBe("EncodingError");
    expect(error.where).toEqual({ resource: "u.csv", line: 1 });
    expect(error.message).toContain("UTF-16");
  });

  it("refuses a UTF-16 BE BOM with EncodingError", () => {
    const error = roadtollErrorFrom(() => transcode([Buffer.from([0xfe, 0xff, 0x00, 0x61])]));
    expect(error.name).toBe("EncodingError");
    expect(error.where?.line).toBe(1);
  });

  it("refuses a NUL byte with EncodingError naming its line and offset", () => {
    // "a\nb\n" is lines 1-2, then "c\0" on line 3; the NUL is byte 5 (0-based).
    const error = roadtollErrorFrom(() => transcode([Buffer.from("a\nb\nc\0d\n", "latin1")], "bin.csv"));
    expect(error.name).toBe("EncodingError");
    expect(error.where).toEqual({ resource: "bin.csv", line: 3 });
    expect(error.message).toBe("bin.csv, line 3: NUL byte at offset 5: not a text file");
  });

  it("refuses a NUL byte in a later chunk, counting the lines of earlier ASCII chunks", () => {
    // chunk 1 has 2 newlines → lines 1-2 done; chunk 2 "x\0" is on line 3, at byte 4 + 1 = 5.
    const error = roadtollErrorFrom(() => transcode([Buffer.from("a\nb\n"), Buffer.from("x\0")]));
    expect(error.name).toBe("EncodingError");
    expect(error.where?.line).toBe(3);
    expect(error.message).toContain("NUL byte at offset 5");
  });

  // Regression: lines of bytes still waiting for the encoding decision count too.
  it("names the NUL byte's line when earlier non-ASCII bytes are still undecided", () => {
    const error = roadtollErrorFrom(() => transcode([Buffer.from("é\nb\n", "latin1"), Buffer.from("c\0")]));
    expect(error.where?.line).toBe(3);
  });

  // Regression: bytes buffered before the BOM check must not be counted twice.
  it("reports the right NUL offset in an input shorter than 3 bytes", () => {
    const error = roadtollErrorFrom(() => transcode([Buffer.from("a\0")]));
    expect(error.message).toContain("NUL byte at offset 1:");
  });

  it("refuses a file that starts as UTF-8 and later has an invalid byte, naming the line", () => {
    // Chunk 1: "é\n" (line 1) + 700 lines of 100 bytes → 70,003 bytes, more than the 64 KiB window, all valid
    // UTF-8, so strict UTF-8 is chosen. 701 newlines: chunk 2 starts on line 702 with the invalid 0xFF.
    const first = Buffer.from(`é\n${"x".repeat(99).concat("\n").repeat(700)}`, "utf8");
    const transcoder = new Transcoder("mixed.csv");
    expect(transcoder.push(first).equals(first)).toBe(true);
    expect(transcoder.detected).toBe("utf-8");
    const error = roadtollErrorFrom(() => transcoder.push(Buffer.from([0xff])));
    expect(error.name).toBe("EncodingError");
    expect(error.where).toEqual({ resource: "mixed.csv", line: 702 });
    expect(error.message).toContain("mixes encodings");
  });

  // Regression: the line of the invalid byte, not of the chunk's end. Chunk 2 starts on line 702; the 0xFF
  // follows "ok\n", so it is on line 703.
  it("names the line of the invalid byte, not the chunk's last line", () => {
    const first = Buffer.from(`é\n${"x".repeat(99).concat("\n").repeat(700)}`, "utf8");
    const transcoder = new Transcoder("mixed.csv");
    transcoder.push(first);
    const error = roadtollErrorFrom(() =>
      transcoder.push(Buffer.concat([Buffer.from("ok\n"), Buffer.from([0xff]), Buffer.from("\nmore\n")])),
    );
    expect(error.where?.line).toBe(703);
  });

  it("refuses an invalid byte after a UTF-8 BOM", () => {
    // The BOM selects strict UTF-8 at once; "ok\n" is line 1, the lone 0xE9 (Latin-1 é) is on line 2.
    const error = roadtollErrorFrom(() =>
      transcode([Buffer.concat([BOM, Buffer.from("ok\n")]), Buffer.from([0xe9, 0x41])]),
    );
    expect(error.name).toBe("EncodingError");
    expect(error.where?.line).toBe(2);
  });
});

describe("Transcoder: tiny inputs", () => {
  it("returns nothing for empty input and reports utf-8", () => {
    expect(transcode([])).toEqual({ text: "", encoding: "utf-8" });
    expect(transcode([Buffer.alloc(0)])).toEqual({ text: "", encoding: "utf-8" });
  });

  it("decodes one and two ASCII bytes", () => {
    expect(transcode([Buffer.from("a")])).toEqual({ text: "a", encoding: "utf-8" });
    expect(transcode([Buffer.from("a"), Buffer.from("b")])).toEqual({ text: "ab", encoding: "utf-8" });
  });

  it("decodes a 2-byte UTF-8 character on its own", () => {
    expect(transcode([Buffer.from([0xc3, 0xa9])])).toEqual({ text: "é", encoding: "utf-8" });
  });

  it("decodes a single Latin-1 byte on its own", () => {
    expect(transcode([Buffer.from([0xe9])])).toEqual({ text: "é", encoding: "iso-8859-1" });
  });

  it("returns nothing for a file that is only a UTF-8 BOM and reports utf-8-bom", () => {
    expect(transcode([BOM])).toEqual({ text: "", encoding: "utf-8-bom" });
  });

  it("treats two bytes of an incomplete BOM as Latin-1", () => {
    // 0xEF 0xBB is a truncated UTF-8 sequence at end of input, so not UTF-8: Latin-1 "ï»".
    expect(transcode([Buffer.from([0xef, 0xbb])])).toEqual({ text: "ï»", encoding: "iso-8859-1" });
  });

  it("refuses a file that is only a UTF-16 BOM", () => {
    const error = roadtollErrorFrom(() => transcode([Buffer.from([0xff, 0xfe])]));
    expect(error.name).toBe("EncodingError");
  });

  it("refuses a lone NUL byte", () => {
    const error = roadtollErrorFrom(() => transcode([Buffer.from([0x00])]));
    expect(error.name).toBe("EncodingError");
    expect(error.where?.line).toBe(1);
  });
});
