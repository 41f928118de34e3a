import { describe, expect, it } from "vitest";
import { createRowFormatter, formatRows } from "./format.js";

describe("formatRows", () => {
  it("aligns a table of any length (300,000 rows: no argument spread to overflow the stack)", () => {
    const rows = Array.from({ length: 300_000 }, (_, i) => ({ road: `R${i}`, deaths: i }));
    const text = formatRows(rows, "table", { columns: ["road", "deaths"], numeric: ["deaths"] });
    const lines = text.trimEnd().split("\n");
    expect(lines).toHaveLength(300_000 + 3);
    expect(lines[0]).toBe("road      deaths");
    expect(lines[2]).toBe("R0             0");
    expect(lines.at(-2)).toBe("R299999  299,999");
    expect(lines.at(-1)).toBe("(300,000 rows)");
  });

  it("groups the thousands of amounts in a table, never of years or ids, nor in CSV or JSON", () => {
    const rows = [
      { source: "S", year: 2024, run_id: 123456, deaths: 1234567, share: -1234.5, text: "12345x" },
    ];
    const [, , line] = formatRows(rows, "table").split("\n");
    expect(line?.split(/\s+/)).toEqual(["S", "2024", "123456", "1,234,567", "-1,234.5", "12345x"]);
    expect(formatRows(rows, "csv")).toContain(",2024,123456,1234567,-1234.5,");
    expect(JSON.parse(formatRows(rows, "json"))).toEqual(rows);
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
