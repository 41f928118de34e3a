import type { ObjectStore } from "../adapters/object-store.js";
import { CLEAN_DELIMITER } from "../domain/csv-format.js";
import { CsvReader } from "../domain/csv-reader.js";
import type { RejectReasons } from "./render-report.js";

/** Rejects read per object at most: a refused file can reject every row, and the report wants the reasons only. */
export const MAX_REJECTS_READ = 10_000;
const LINES_SHOWN = 3;

/**
 * Why a run's rows were rejected, from its rejects object (`line,column,reason,row`, see compute-deaths.ts),
 * grouped by kind: the reason without the offending value, as the deaths step groups them for its error.
 */
export async function readRejectReasons(
  store: ObjectStore,
  key: string,
  limit = MAX_REJECTS_READ,
): Promise<RejectReasons> {
  const kinds = new Map<string, { kind: string; count: number; lines: number[] }>();
  let counted = 0;
  let header = true;
  const reader = new CsvReader({
    file: key,
    delimiter: CLEAN_DELIMITER,
    onRecord(record) {
      if (header) {
        header = false;
        return;
      }
      if (counted >= limit) return;
      counted++;
      const [line = "", column = "", reason = ""] = record.texts();
      const kind = column ? `${column}: ${reasonKind(reason)}` : reasonKind(reason);
      const entry = kinds.get(kind) ?? { kind, count: 0, lines: [] };
      entry.count++;
      if (entry.lines.length < LINES_SHOWN) entry.lines.push(Number(line));
      kinds.set(kind, entry);
    },
  });
  const body = await store.read(key);
  try {
    for await (const chunk of body) {
      reader.push(chunk as Buffer);
      if (counted >= limit) break;
    }
    if (counted < limit) reader.end();
  } finally {
    body.destroy();
  }
  return {
    kinds: [...kinds.values()].sort((a, b) => b.count - a.count || (a.kind < b.kind ? -1 : 1)),
    counted,
  };
}

/**
 * The reason without the value that caused it (see domain/count.ts): `negative count -1` and `negative count -3`
 * are one kind. Field counts stay as they are: `expected 20 fields, found 19` says what is wrong with the file.
 */
function reasonKind(reason: string): string {
  if (reason.startsWith("negative count")) return "negative count";
  if (reason.startsWith("not a whole number")) return "not a whole number";
  if (/^count .* is too large$/.test(reason)) return "count too large";
  return reason;
}
