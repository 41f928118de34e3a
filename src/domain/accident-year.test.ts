import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { referenceYear } from "../../tests/support/reference.js";
import { parseYearBytes, UNKNOWN_YEAR } from "./accident-year.js";

function year(text: string): number {
  const bytes = Buffer.from(`<${text}>`, "latin1");
  return parseYearBytes(bytes, 1, bytes.length - 1);
}

describe("parseYearBytes", () => {
  it.each([
    ["01/01/2021", 2021],
    ["31/12/2010", 2010],
    ["1/2/2015", 2015],
    [" 07/09/2022\t", 2022],
    ["2019-03-04", 2019],
  ])("reads %j as %i", (text, expected) => {
    expect(year(text)).toBe(expected);
  });

  it.each([
    "",
    "   ",
    "01/01/21",
    "32/01/2021",
    "00/01/2021",
    "01/13/2021",
    "01/00/2021",
    "001/01/2021",
    "01-01-2021",
    "2021",
    "01/01/2021 10:00",
    "2021-13-01",
    "2021/01/01",
    "aa/bb/cccc",
    "01/01/20x1",
    "01/01/0000",
  ])("gives no year for %j", (text) => {
    expect(year(text)).toBe(UNKNOWN_YEAR);
  });

  it("agrees with the tests' reference (regular expressions) on any short string of date-like characters", () => {
    const text = fc.string({
      unit: fc.constantFrom("0", "1", "2", "3", "9", "/", "-", " ", "\t", "x"),
      maxLength: 12,
    });
    const date = fc
      .tuple(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 14 }),
        fc.integer({ min: 0, max: 9999 }),
      )
      .map(([d, m, y]) => `${d}/${String(m).padStart(2, "0")}/${String(y).padStart(4, "0")}`);
    fc.assert(
      fc.property(fc.oneof(text, date), (value) => {
        expect(year(value)).toBe(referenceYear(value) ?? UNKNOWN_YEAR);
      }),
      { numRuns: 2000 },
    );
  });
});
