import { describe, expect, it } from "vitest";
import { formatCsvRow } from "./csv-format.js";

describe("formatCsvRow", () => {
  it("joins plain fields with commas, unquoted, and ends with a newline", () => {
    expect(formatCsvRow(["01/03/2021", "BR-116/BA", "com vítima", "2"])).toBe(
      "01/03/2021,BR-116/BA,com vítima,2\n",
    );
  });

  it("quotes a field containing a comma (the decimal km)", () => {
    expect(formatCsvRow(["12,5", "7"])).toBe('"12,5",7\n');
  });

  it("quotes a field containing double quotes and doubles them", () => {
    expect(formatCsvRow(['Choque - Defensa ou "submarino"'])).toBe('"Choque - Defensa ou ""submarino"""\n');
  });

  it("quotes fields containing a newline or a carriage return", () => {
    expect(formatCsvRow(["a\nb", "c\rd", "e"])).toBe('"a\nb","c\rd",e\n');
  });

  it("keeps empty and space-only fields as they are", () => {
    expect(formatCsvRow(["", " ", "", "x"])).toBe(", ,,x\n");
  });

  it("does not quote semicolons or spaces", () => {
    expect(formatCsvRow(["a;b c"])).toBe("a;b c\n");
  });

  it("writes an empty row as a bare newline", () => {
    expect(formatCsvRow([])).toBe("\n");
  });
});
