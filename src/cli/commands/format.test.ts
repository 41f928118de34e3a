import { describe, expect, it } from "vitest";
import { formatRows } from "./format.js";

describe("formatRows", () => {
  it("aligns a table of any length (300,000 rows: no argument spread to overflow the stack)", () => {
    const rows = Array.from({ length: 300_000 }, (_, i) => ({ road: `R${i}`, deaths: i }));
    const text = formatRows(rows, "table", { columns: ["road", "deaths"], numeric: ["deaths"] });
    const lines = text.trimEnd().split("\n");
    expect(lines).toHaveLength(300_000 + 3);
    expect(lines[0]).toBe("road     deaths");
    expect(lines[2]).toBe("R0            0");
    expect(lines.at(-2)).toBe("R299999  299999");
    expect(lines.at(-1)).toBe("(300000 rows)");
  });

  it("writes CSV and JSON for the same rows, numbers as numbers", () => {
    const rows = [{ road: "=1+1", deaths: 3 }];
    expect(formatRows(rows, "csv")).toBe("road,deaths\r\n'=1+1,3\r\n");
    expect(JSON.parse(formatRows(rows, "json"))).toEqual(rows);
  });
});
