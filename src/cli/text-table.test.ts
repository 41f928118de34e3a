import { describe, expect, it } from "vitest";
import { TextTable, textTable } from "./text-table.js";

describe("textTable", () => {
  it("pads each column to its widest cell, numbers right-aligned, with a rule under the header", () => {
    expect(
      textTable(
        ["source", "deaths"],
        [
          ["Via_Norte", "1,234"],
          ["CRT", "7"],
        ],
        ["left", "right"],
      ),
    ).toBe(["source     deaths", "---------  ------", "Via_Norte   1,234", "CRT             7"].join("\n"));
  });

  it("trims trailing spaces and shows an empty table as its header", () => {
    expect(textTable(["road", "note"], [["BR-101", ""]], ["left", "left"])).toBe(
      "road    note\n------  ----\nBR-101",
    );
    expect(textTable(["road"], [], ["left"])).toBe("road\n----");
  });
});

describe("TextTable, a page at a time", () => {
  it("draws the header once, with the first page's widths; later pages widen only their own lines", () => {
    const table = new TextTable(["n", "name"], ["right", "left"]);
    expect(table.page([["1", "a"]])).toBe("n  name\n-  ----\n1  a\n");
    expect(table.page([["100", "b"]])).toBe("100  b\n");
    expect(table.page([["2", "c"]])).toBe("  2  c\n");
  });
});
