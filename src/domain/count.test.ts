import { describe, expect, it } from "vitest";
import { parseCount } from "./count.js";

describe("parseCount", () => {
  it.each([
    ["", 0],
    ["  ", 0],
    ["0", 0],
    ["12", 12],
    [" 3 ", 3],
    ["007", 7],
  ])("reads %j as %d", (cell, value) => {
    expect(parseCount(cell)).toEqual({ ok: true, value });
  });

  it("reads a missing cell (short row) as 0", () => {
    expect(parseCount(undefined)).toEqual({ ok: true, value: 0 });
  });

  it("rejects a negative count, saying it is negative", () => {
    expect(parseCount("-1")).toEqual({ ok: false, reason: "negative count -1" });
  });

  it.each([
    ["x", 'not a whole number: "x"'],
    ["1.5", 'not a whole number: "1.5"'],
    ["1,0", 'not a whole number: "1,0"'],
    ["+1", 'not a whole number: "+1"'],
    ["1 2", 'not a whole number: "1 2"'],
  ])("rejects %j with a reason", (cell, reason) => {
    expect(parseCount(cell)).toEqual({ ok: false, reason });
  });

  it("rejects a count beyond the safe integer range", () => {
    expect(parseCount("9007199254740993")).toEqual({
      ok: false,
      reason: 'count "9007199254740993" is too large',
    });
  });
});
