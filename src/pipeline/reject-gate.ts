import type { DeathsComputation } from "../domain/compute-deaths.js";
import { type RejectKindCount, rejectLabel } from "../domain/rejects.js";
import { RoadtollError } from "../errors.js";

/** The share of rejected rows a file may have before the deaths step refuses it (`MAX_REJECT_SHARE`). */
export const DEFAULT_MAX_REJECT_SHARE = 0.05;

/** How many reject kinds the error names; the rest are summed up in one phrase. */
const REASONS_NAMED = 3;

export interface RejectGate {
  /** The file the rows came from (the clean object's key): the error's `where.resource`. */
  file: string;
  /** Rejected / read above this fails the step; 0 allows no reject, 1 any share (but never every row). */
  maxShare: number;
  /** Where the rejects object was kept, for the person reading the error. */
  rejectsUri: string;
}

type Counts = Pick<DeathsComputation, "rowsRead" | "rowsRejected" | "rejectKinds">;

/**
 * Refuses a computation that must not be written as a snapshot:
 * - a file with a header and no data row (`NoDataError`): an empty snapshot would hide a broken source;
 * - a file whose rejected share exceeds `maxShare`, or whose every row was rejected whatever `maxShare` says
 *   (`TooManyRejectsError`), which is what a file read the wrong way (quoting, separator) looks like.
 * The caller runs it after the rejects object is complete and before touching the database.
 */
export function checkRejectShare(counts: Counts, gate: RejectGate): void {
  const { file, maxShare, rejectsUri } = gate;
  if (!(maxShare >= 0 && maxShare <= 1)) {
    throw new RoadtollError("ConfigError", `MAX_REJECT_SHARE must be a number from 0 to 1, got ${maxShare}`);
  }
  const { rowsRead: read, rowsRejected: rejected } = counts;
  if (read === 0) {
    throw new RoadtollError(
      "NoDataError",
      "the file has a header but no data rows; nothing written, since an empty snapshot would hide a broken " +
        `source; rejects kept at ${rejectsUri}`,
      { where: { resource: file } },
    );
  }
  const share = rejected / read;
  const everyRow = rejected >= read;
  if (share <= maxShare && !everyRow) return;

  const [shown, allowed] = percentages(share, maxShare);
  const setting = `MAX_REJECT_SHARE=${maxShare}`;
  const verdict =
    share > maxShare
      ? `more than the ${allowed} allowed (${setting})`
      : `no row left to count, which always fails whatever ${setting} allows`;
  const reasons = describeKinds(counts.rejectKinds);
  throw new RoadtollError(
    "TooManyRejectsError",
    `${count(rejected)} of ${count(read)} rows rejected (${shown}), ${verdict}` +
      (reasons ? `; most common: ${reasons}` : "") +
      `; nothing written; rejects kept at ${rejectsUri}`,
    { where: { resource: file } },
  );
}

function count(value: number): string {
  return value.toLocaleString("en-US");
}

/** The share and the limit as percentages, with enough decimals that a share just over the limit reads so. */
function percentages(share: number, max: number): [string, string] {
  const precision = exactDecimals(max * 100);
  const allowed = percent(max, precision);
  for (let decimals = precision; decimals <= 4; decimals++) {
    const shown = percent(share, decimals);
    if (share <= max || Number.parseFloat(shown) > Number.parseFloat(allowed)) return [shown, allowed];
  }
  return [percent(share, 4), allowed];
}

function percent(share: number, decimals: number): string {
  return `${(share * 100).toFixed(decimals)}%`;
}

/** At least one decimal, more only when the value needs them (0.025 → 2.5%, 0.0025 → 0.25%). */
function exactDecimals(value: number): number {
  for (let decimals = 1; decimals < 4; decimals++) {
    if (Math.abs(Number(value.toFixed(decimals)) - value) < 1e-9) return decimals;
  }
  return 4;
}

function describeKinds(kinds: readonly RejectKindCount[]): string {
  const named = kinds.slice(0, REASONS_NAMED).map((kind) => `${rejectLabel(kind)} ×${count(kind.count)}`);
  const others = kinds.slice(REASONS_NAMED);
  if (others.length > 0) {
    const rows = others.reduce((sum, reason) => sum + reason.count, 0);
    named.push(`${others.length} other kind${others.length > 1 ? "s" : ""} ×${count(rows)}`);
  }
  return named.join(", ");
}
