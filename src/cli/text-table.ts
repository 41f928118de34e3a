export type Align = "left" | "right";

/**
 * An aligned text table, built a page at a time: two spaces between columns, a rule under the header, trailing
 * spaces trimmed. Each column is as wide as its header and every cell seen so far, so past the first page the
 * header is not redrawn (psql does the same with FETCH_COUNT). Cells are printed as given: the caller makes them
 * safe to show (domain/safe-text.ts).
 */
export class TextTable {
  private readonly widths: number[];
  private headed = false;

  constructor(
    private readonly headers: readonly string[],
    private readonly align: readonly Align[],
  ) {
    this.widths = headers.map((header) => header.length);
  }

  /** The page's lines, each ending in a newline; the first page starts with the header and its rule. */
  page(rows: ReadonlyArray<readonly string[]>): string {
    const widths = this.widths;
    // Loops, not spreads: a spread passes every row as an argument, and a few hundred thousand overflow the stack.
    for (const row of rows) {
      for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i] ?? 0, (row[i] ?? "").length);
    }
    let text = "";
    if (!this.headed) {
      text += `${this.line(this.headers)}\n${widths.map((width) => "-".repeat(width)).join("  ")}\n`;
      this.headed = true;
    }
    for (const row of rows) text += `${this.line(row)}\n`;
    return text;
  }

  private line(cells: readonly string[]): string {
    return this.widths
      .map((width, i) => {
        const cell = cells[i] ?? "";
        return this.align[i] === "right" ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  }
}

/** A whole table at once, without a final newline. */
export function textTable(
  headers: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  align: readonly Align[],
): string {
  return new TextTable(headers, align).page(rows).slice(0, -1);
}
