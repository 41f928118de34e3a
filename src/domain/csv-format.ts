/**
 * RFC 4180 output for the clean and rejects files. The source files are unquoted and `;`-separated, so a field
 * may contain commas (the decimal `km`) or stray double quotes; quoting exactly those keeps every downstream CSV
 * reader happy without a dependency.
 */
const NEEDS_QUOTES = /[",\r\n]/;

export function formatCsvRow(fields: readonly string[]): string {
  let line = "";
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] ?? "";
    if (i > 0) line += ",";
    line += NEEDS_QUOTES.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
  }
  return `${line}\n`;
}
