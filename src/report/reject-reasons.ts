import type { ObjectStore } from "../adapters/object-store.js";
import { CLEAN_DELIMITER } from "../domain/csv-format.js";
import { CsvReader } from "../domain/csv-reader.js";
import { type RejectKindCount, rejectLabel } from "../domain/rejects.js";
import type { RejectReasons } from "./render-report.js";

/** Rejects read per object at most: a refused file can reject every row, and the report wants a few lines only. */
export const MAX_REJECTS_READ = 10_000;
const LINES_SHOWN = 3;

/** What the report needs of a run to say why its rows were rejected. */
export interface RejectedRun {
  rejectsKey: string | null;
  /** pipeline_runs.reject_kinds; null for a run recorded before migration 0009. */
  rejectKinds: readonly RejectKindCount[] | null;
}

/**
 * Why a run's rows were rejected: the counts by kind the deaths step recorded in pipeline_runs, which the reject
 * gate grouped by too, with the first few lines of each kind from the rejects object. When the object cannot be
 * read (a lifecycle rule expired it, say) the counts still stand, without lines. A run recorded before the counts
 * were kept is grouped from its object alone, by column and reason.
 */
export async function readRejectReasons(
  run: RejectedRun,
  store: ObjectStore | undefined,
  noStore: string,
  limit = MAX_REJECTS_READ,
): Promise<RejectReasons | { unavailable: string }> {
  const known = run.rejectKinds;
  const kinds = new Map<string, { kind: string; count: number; lines: number[] }>();
  for (const kind of known ?? []) {
    kinds.set(rejectLabel(kind), { kind: rejectLabel(kind), count: kind.count, lines: [] });
  }
  const recorded = known ? known.reduce((sum, kind) => sum + kind.count, 0) : 0;
  let counted = 0;
  let failure: string | undefined;
  if (!store || run.rejectsKey === null) {
    failure = store ? "the run kept no rejects object" : noStore;
  } else {
    // Any failure to read it, a 403 included, only costs the lines (or, without counts, the section): the lifecycle
    // rule expires rejects objects, and a report must not fail for one. Elsewhere a 403 is a failure.
    // Counts recorded: the object is read only until every kind has its lines.
    let linesWanted = [...kinds.values()].reduce((sum, kind) => sum + Math.min(LINES_SHOWN, kind.count), 0);
    counted = await scanRejects(store, run.rejectsKey, limit, (label, line) => {
      let entry = kinds.get(label);
      if (!entry) {
        // With recorded counts, a line of a kind they do not name is skipped; an older run counts from the object.
        if (known) return true;
        entry = { kind: label, count: 0, lines: [] };
        kinds.set(label, entry);
      }
      if (!known) entry.count++;
      if (entry.lines.length < LINES_SHOWN && (!known || entry.lines.length < entry.count)) {
        entry.lines.push(line);
        linesWanted--;
      }
      return !known || linesWanted > 0;
    }).catch((error: unknown) => {
      failure = error instanceof Error ? error.message : String(error);
      return 0;
    });
  }
  if (!known && failure !== undefined) return { unavailable: failure };
  return {
    kinds: [...kinds.values()].sort((a, b) => b.count - a.count || (a.kind < b.kind ? -1 : 1)),
    counted: known ? recorded : counted,
    ...(known && failure !== undefined ? { linesUnavailable: failure } : {}),
  };
}

/**
 * Reads the rejects object (REJECTS_HEADER; before migration 0009 it had no `kind` column) until `onReject` says
 * it has seen enough or `limit` rejects were read; gives how many were read.
 */
async function scanRejects(
  store: ObjectStore,
  key: string,
  limit: number,
  onReject: (label: string, line: number) => boolean,
): Promise<number> {
  let columns: { line: number; column: number; kind: number } | undefined;
  let counted = 0;
  let more = true;
  const reader = new CsvReader({
    file: key,
    delimiter: CLEAN_DELIMITER,
    onRecord(record) {
      const cells = record.texts();
      if (!columns) {
        const kind = cells.indexOf("kind");
        columns = {
          line: cells.indexOf("line"),
          column: cells.indexOf("column"),
          kind: kind >= 0 ? kind : cells.indexOf("reason"),
        };
        return;
      }
      if (!more || counted >= limit) return;
      counted++;
      const label = rejectLabel({ column: cells[columns.column] ?? "", kind: cells[columns.kind] ?? "" });
      more = onReject(label, Number(cells[columns.line]));
    },
  });
  const body = await store.read(key);
  try {
    for await (const chunk of body) {
      reader.push(chunk as Buffer);
      if (!more || counted >= limit) return counted;
    }
    reader.end();
  } finally {
    body.destroy();
  }
  return counted;
}
