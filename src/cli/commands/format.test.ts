import { describe, expect, it } from "vitest";
import { createRowFormatter, formatRows } from "./format.js";

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

  it("gives, page by page, the JSON and CSV the whole result gives", () => {
    const rows = Array.from({ length: 7 }, (_, i) => ({ road: `R${i}`, deaths: i, at: null }));
    for (const format of ["json", "csv"] as const) {
      for (const options of [{}, { columns: ["deaths", "road"] }]) {
        const formatter = createRowFormatter(format, options);
        const paged = [rows.slice(0, 3), [], rows.slice(3)].map((page) => formatter.page(page)).join("");
        expect(paged + formatter.end()).toBe(formatRows(rows, format, options));
      }
    }
    expect(JSON.parse(formatRows(rows, "json", { columns: ["deaths"] }))).toEqual(
      rows.map(({ deaths }) => ({ deaths })),
    );
    expect(formatRows([], "json")).toBe("[]\n");
  });

  it("aligns a table on the widths seen so far, which only grow: the header keeps the first page's", () => {
    const formatter = createRowFormatter("table", { columns: ["road", "deaths"] });
    const text =
      formatter.page([{ road: "BR-1", deaths: 1 }]) +
      formatter.page([{ road: "BR-101/SC", deaths: 12 }]) +
      formatter.page([{ road: "BR-2", deaths: 3 }]) +
      formatter.end();
    expect(text).toBe(
      [
        "road  deaths",
        "----  ------",
        "BR-1       1",
        "BR-101/SC      12",
        `BR-2${" ".repeat(12)}3`,
        "(3 rows)",
        "",
      ].join("\n"),
    );
  });
});
