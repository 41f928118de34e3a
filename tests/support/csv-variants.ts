/**
 * Writes one table (header + rows) in the ordinary variations of a CSV file, for tests that check the pipeline
 * gives the same figures whatever the form: delimiter, quoting, line ends, BOM, encoding, an extra column, a
 * different column order. Test-only; shares no code with src/.
 */
export interface VariantOptions {
  delimiter: ";" | "," | "\t";
  eol: "\n" | "\r\n" | "\r";
  /** `minimal`: quote only what must be; `all`: quote every field. */
  quote: "minimal" | "all";
  encoding: "latin1" | "utf8";
  bom?: boolean;
  /** Adds a column at this position; its value for row i is `value(i)`. */
  extra?: { at: number; name: string; value: (row: number) => string };
  /** New column order, as positions in the original header (after the extra column is added). */
  order?: (columns: number) => number[];
}

export function writeVariant(
  header: readonly string[],
  rows: readonly string[][],
  options: VariantOptions,
): Buffer {
  const shape = (cells: readonly string[], row: number): string[] => {
    let out = [...cells];
    if (options.extra) {
      const value = row < 0 ? options.extra.name : options.extra.value(row);
      out.splice(options.extra.at, 0, value);
    }
    if (options.order) {
      const order = options.order(out.length);
      const source = out;
      out = order.map((position) => source[position] ?? "");
    }
    return out;
  };
  const field = (value: string): string => {
    const must =
      value.startsWith('"') ||
      value.includes(options.delimiter) ||
      value.includes("\n") ||
      value.includes("\r");
    return must || options.quote === "all" ? `"${value.replaceAll('"', '""')}"` : value;
  };
  // A blank line stays blank in every form, so line numbers agree across forms.
  const blank = (cells: readonly string[]) => cells.length === 1 && cells[0] === "";
  const lines = [header, ...rows].map((cells, i) =>
    blank(cells)
      ? ""
      : shape(cells, i - 1)
          .map(field)
          .join(options.delimiter),
  );
  const text = lines.join(options.eol) + options.eol;
  const body = Buffer.from(text, options.encoding);
  return options.bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]) : body;
}

/** Reverses the column order: every column moves, so a reader that assumes positions fails. */
export const reversed = (columns: number): number[] =>
  Array.from({ length: columns }, (_, i) => columns - 1 - i);
