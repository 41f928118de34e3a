/**
 * Why a row was not counted, as data: the rejects object carries the kind in a column of its own, pipeline_runs
 * the count of each kind, and the reject gate, the step's summary and the report all group by the same pair
 * (column, kind). The reason beside it keeps the offending value for a person: `negative count -3`.
 */
export const REJECT_KINDS = [
  "wrong number of fields",
  "no road name",
  "negative count",
  "not a whole number",
  "count too large",
  "file total too large",
] as const;
export type RejectKind = (typeof REJECT_KINDS)[number];

export interface RejectKindCount {
  /** The column the kind concerns; empty for the row as a whole (its field count). */
  column: string;
  kind: RejectKind;
  count: number;
}

/** The rejects object's columns. `row` is the row as the source had it. */
export const REJECTS_HEADER = ["line", "column", "kind", "reason", "row"] as const;

/** How a person reads a kind: `mortos: negative count`, `wrong number of fields`. */
export function rejectLabel({ column, kind }: { column: string; kind: string }): string {
  return column ? `${column}: ${kind}` : kind;
}

/** Counts each (column, kind) pair as rows are rejected; `sorted()` gives the most common first. */
export class RejectTally {
  private readonly counts = new Map<string, RejectKindCount>();

  add(column: string, kind: RejectKind): void {
    const key = `${kind}\u0000${column}`;
    const entry = this.counts.get(key);
    if (entry) entry.count++;
    else this.counts.set(key, { column, kind, count: 1 });
  }

  sorted(): RejectKindCount[] {
    return [...this.counts.values()].sort(byCountThenLabel);
  }
}

export function byCountThenLabel(a: RejectKindCount, b: RejectKindCount): number {
  const [left, right] = [rejectLabel(a), rejectLabel(b)];
  return b.count - a.count || (left < right ? -1 : left > right ? 1 : 0);
}
