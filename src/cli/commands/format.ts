import { displayText, spreadsheetCell } from "../../domain/safe-text.js";

/** How the read commands print rows: an aligned table for people, JSON or CSV (RFC 4180) for programs. */
export const FORMATS = ["table", "json", "csv"] as const;
export type Format = (typeof FORMATS)[number];

export type Row = Record<string, unknown>;

/**
 * `columns` fixes the order (and the header when there are no rows); without it the first row's keys are used.
 * `numeric` columns are right-aligned in the table.
 */
export function formatRows(
  rows: readonly Row[],
  format: Format,
  options: { columns?: readonly string[]; numeric?: readonly string[] } = {},
): string {
  const columns = options.columns ?? Object.keys(rows[0] ?? {});
  switch (format) {
    case "json":
      return `${JSON.stringify(
        rows.map((row) => jsonRow(row, columns)),
        null,
        2,
      )}\n`;
    case "csv":
      return csv(rows, columns);
    case "table":
      return table(rows, columns, new Set(options.numeric ?? numericColumns(rows, columns)));
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

/**
 * RFC 4180: CRLF line ends; a field with a comma, quote, CR or LF is quoted, quotes doubled. Text that a
 * spreadsheet would run as a formula gets a leading `'` (spreadsheetCell); numbers are written as they are.
 */
function csv(rows: readonly Row[], columns: readonly string[]): string {
  const field = (text: string) => (/[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);
  const cell = (value: unknown) => (typeof value === "string" ? spreadsheetCell(value) : cellText(value));
  const lines = [columns.map(field).join(",")];
  for (const row of rows) lines.push(columns.map((column) => field(cell(row[column]))).join(","));
  return `${lines.join("\r\n")}\r\n`;
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

function table(rows: readonly Row[], columns: readonly string[], numeric: ReadonlySet<string>): string {
  if (columns.length === 0) return `(${rows.length} rows)\n`;
  // One line per cell, as the terminal shows it: line breaks, escapes and bidi controls made visible (a newline
  // would break the columns, an escape sequence could rewrite the screen), long values cut; JSON has them whole.
  const cells = rows.map((row) => columns.map((column) => displayText(cellText(row[column]))));
  // Loops, not spreads: a spread passes every row as an argument, and a few hundred thousand overflow the stack.
  const widths = columns.map((column) => column.length);
  for (const line of cells) {
    for (let i = 0; i < columns.length; i++) widths[i] = Math.max(widths[i] ?? 0, (line[i] ?? "").length);
  }
  const pad = (text: string, i: number) => {
    const width = widths[i] ?? 0;
    return numeric.has(columns[i] ?? "") ? text.padStart(width) : text.padEnd(width);
  };
  const lines = [columns.map(pad).join("  "), widths.map((width) => "-".repeat(width)).join("  ")];
  for (const line of cells) lines.push(line.map(pad).join("  "));
  for (let i = 0; i < lines.length; i++) lines[i] = (lines[i] ?? "").trimEnd();
  lines.push(`(${rows.length} ${rows.length === 1 ? "row" : "rows"})`);
  return `${lines.join("\n")}\n`;
}
