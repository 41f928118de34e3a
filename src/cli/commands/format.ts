import { formatCsvRow } from "../../domain/csv-format.js";
import { displayText, spreadsheetCell } from "../../domain/safe-text.js";
import { TextTable } from "../text-table.js";

/** How the read commands print rows: an aligned table for people, JSON or CSV (RFC 4180) for programs. */
export const FORMATS = ["table", "json", "csv"] as const;
export type Format = (typeof FORMATS)[number];

export type Row = Record<string, unknown>;

export interface FormatOptions {
  /** Fixes the order (and the header when there are no rows); without it the first row's keys are used. */
  columns?: readonly string[];
  /** Right-aligned in the table; without it, the columns whose first page of values are all numbers. */
  numeric?: readonly string[];
}

/** All the rows at once, formatted as a whole. */
export function formatRows(rows: readonly Row[], format: Format, options: FormatOptions = {}): string {
  const formatter = createRowFormatter(format, options);
  return formatter.page(rows) + formatter.end();
}

/**
 * Rows a page at a time, so a result of any size is printed with the memory of one page: `page` returns the text
 * for its rows, `end` what closes the output. A table is aligned on the widths seen so far, which only grow, as
 * psql does with FETCH_COUNT: a value wider than any before it shifts the columns from its row on.
 */
export function createRowFormatter(format: Format, options: FormatOptions = {}) {
  let columns = options.columns;
  const columnsFrom = (rows: readonly Row[]) => {
    columns ??= Object.keys(rows[0] ?? {});
    return columns;
  };
  switch (format) {
    case "json": {
      let opened = false;
      return {
        page(rows: readonly Row[]): string {
          if (rows.length === 0) return "";
          const opening = opened ? ",\n" : "[\n";
          opened = true;
          const cols = columnsFrom(rows);
          return (
            opening +
            rows
              .map((row) => `  ${JSON.stringify(jsonRow(row, cols), null, 2).replaceAll("\n", "\n  ")}`)
              .join(",\n")
          );
        },
        end: () => (opened ? "\n]\n" : "[]\n"),
      };
    }
    case "csv": {
      let header = false;
      const lines = (rows: readonly Row[]) => {
        if (rows.length === 0 && columns === undefined) return "";
        const cols = columnsFrom(rows);
        const text =
          (header ? "" : formatCsvRow(cols, "\r\n")) + rows.map((row) => csvRow(row, cols)).join("");
        header = true;
        return text;
      };
      return { page: lines, end: () => lines([]) };
    }
    case "table": {
      const table = new TableFormatter(options.numeric);
      return {
        page: (rows: readonly Row[]) =>
          rows.length === 0 && columns === undefined ? "" : table.page(rows, columnsFrom(rows)),
        end: () => table.end(columns ?? []),
      };
    }
  }
}

function jsonRow(row: Row, columns: readonly string[]): Row {
  return Object.fromEntries(columns.map((column) => [column, jsonValue(row[column])]));
}

function jsonValue(value: unknown): unknown {
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : String(value);
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString("hex")}`;
  return value === undefined ? null : value;
}

/** A cell as text: null is empty, dates are ISO 8601, objects are JSON. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString("hex")}`;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function csvRow(row: Row, columns: readonly string[]): string {
  // Text a spreadsheet would run as a formula gets a leading `'` (spreadsheetCell); numbers are written as they are.
  return formatCsvRow(
    columns.map((column) => {
      const value = row[column];
      return typeof value === "string" ? spreadsheetCell(value) : cellText(value);
    }),
    "\r\n",
  );
}

function numericColumns(rows: readonly Row[], columns: readonly string[]): string[] {
  return columns.filter(
    (column) =>
      rows.length > 0 &&
      rows.every((row) => {
        const value = row[column];
        return (
          value === null ||
          typeof value === "number" ||
          typeof value === "bigint" ||
          (typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value))
        );
      }),
  );
}

/** Numeric columns read as labels, not amounts: a year (2024) or an id keeps its digits together. */
const UNGROUPED = /year|(^|_)id$|_at$/i;

/** 1234567 → 1,234,567 (and -1234.5 → -1,234.5): a table is read by people, who count digits badly. */
function withThousands(text: string): string {
  const match = /^(-?)(\d{4,})(\.\d+)?$/.exec(text);
  if (!match) return text;
  return `${match[1]}${(match[2] as string).replace(/\B(?=(\d{3})+$)/g, ",")}${match[3] ?? ""}`;
}

/** The aligned table, a page at a time: the header with the first page's widths, the row count at the end. */
class TableFormatter {
  private table: TextTable | undefined;
  /** Per column, whether its numbers get thousands separators. */
  private grouped: boolean[] = [];
  private rows = 0;

  constructor(private readonly numericColumns?: readonly string[]) {}

  page(rows: readonly Row[], columns: readonly string[]): string {
    if (columns.length === 0) {
      this.rows += rows.length;
      return "";
    }
    if (this.table === undefined) {
      const numeric = new Set(this.numericColumns ?? numericColumns(rows, columns));
      this.grouped = columns.map((column) => numeric.has(column) && !UNGROUPED.test(column));
      this.table = new TextTable(
        columns,
        columns.map((column) => (numeric.has(column) ? "right" : "left")),
      );
    }
    const grouped = this.grouped;
    // One line per cell, as the terminal shows it: line breaks, escapes and bidi controls made visible (a newline
    // would break the columns, an escape sequence could rewrite the screen), long values cut; JSON has them whole.
    const cells = rows.map((row) =>
      columns.map((column, i) => {
        const text = displayText(cellText(row[column]));
        return grouped[i] ? withThousands(text) : text;
      }),
    );
    this.rows += rows.length;
    return this.table.page(cells);
  }

  end(columns: readonly string[]): string {
    const count = `(${withThousands(String(this.rows))} ${this.rows === 1 ? "row" : "rows"})\n`;
    if (columns.length === 0 || this.table !== undefined) return count;
    // No rows, but known columns: the header alone.
    return this.page([], columns) + count;
  }
}
