import { describe, expect, it } from "vitest";
import { describeCount, NEGATIVE, NOT_A_NUMBER, parseCountBytes, TOO_LARGE } from "./count.js";

const parse = (cell: string) => {
  // Padded so the function must honour its start and end offsets.
  const bytes = Buffer.from(`9${cell}9`);
  return parseCountBytes(bytes, 1, bytes.length - 1);
};

describe("parseCountBytes", () => {
  it.each([
    ["", 0],
    ["  ", 0],
    ["\t", 0],
    ["0", 0],
    ["12", 12],
    [" 3 ", 3],
    ["007", 7],
    ["9007199254740991", Number.MAX_SAFE_INTEGER],
  ])("reads %j as %d", (cell, value) => {
    expect(parse(cell)).toBe(value);
  });

  it.each([
    ["-1", NEGATIVE],
    [" -12 ", NEGATIVE],
    ["-", NOT_A_NUMBER],
    ["-x", NOT_A_NUMBER],
    ["x", NOT_A_NUMBER],
    ["1.5", NOT_A_NUMBER],
    ["1,0", NOT_A_NUMBER],
    ["+1", NOT_A_NUMBER],
    ["1 2", NOT_A_NUMBER],
    ["١", NOT_A_NUMBER],
    ["9007199254740993", TOO_LARGE],
  ])("refuses %j with code %d", (cell, code) => {
    expect(parse(cell)).toBe(code);
  });
});

describe("describeCount", () => {
  it("says why, with the cell, and a kind without it", () => {
    expect(describeCount(NEGATIVE, " -1 ")).toEqual({ kind: "negative count", reason: "negative count -1" });
    expect(describeCount(NOT_A_NUMBER, "1,5")).toEqual({
      kind: "not a whole number",
      reason: 'not a whole number: "1,5"',
    });
    expect(describeCount(TOO_LARGE, "9007199254740993")).toEqual({
      kind: "count too large",
      reason: 'count "9007199254740993" is too large',
    });
  });
});
