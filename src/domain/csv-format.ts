/**
 * RFC 4180 output, the one CSV writer: comma-separated, a field quoted exactly when it holds a comma, a double
 * quote or a line break (the decimal `km` of the source files is the common case), quotes doubled. The clean and
 * rejects files end lines with LF; what people download (the curated CSV, `results --format csv`) with CRLF, as
 * RFC 4180 writes it.
 */
export const CLEAN_DELIMITER = 0x2c;

const NEEDS_QUOTES = /[",\r\n]/;

export function formatCsvRow(fields: readonly string[], lineEnd: "\n" | "\r\n" = "\n"): string {
  let line = "";
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] ?? "";
    if (i > 0) line += ",";
    line += NEEDS_QUOTES.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
  }
  return line + lineEnd;
}

/**
 * Fields joined by a source's delimiter, quoted only where that delimiter's CSV needs it (a delimiter or line
 * break inside, or a leading quote): an unquoted ANTT line comes back exactly as it was, bare quotes included.
 */
export function joinFields(fields: readonly string[], delimiter: string): string {
  return fields
    .map((field) =>
      field.includes(delimiter) || /[\r\n]/.test(field) || field.startsWith('"')
        ? `"${field.replaceAll('"', '""')}"`
        : field,
    )
    .join(delimiter);
}

/** A field as it appears in a clean row, as UTF-8 bytes, quoted if needed. */
export function encodeCsvField(field: string): Buffer {
  return Buffer.from(formatCsvRow([field]).slice(0, -1), "utf8");
}
