import { DASH, dropTrailingBlanks, NINE, skipBlanks, ZERO } from "./bytes.js";
import type { RejectKind } from "./rejects.js";

/**
 * Reads a count cell straight from its bytes. ANTT leaves a cell empty, or fills it with spaces, when the count
 * is zero; anything else must be a plain non-negative integer. A negative count (some files have `-1` trucks)
 * is not a count we can interpret, so the row is rejected rather than guessed at.
 *
 * The result is the count (≥ 0) or one of the negative codes below, so the hot path allocates nothing;
 * `describeCount` turns a code into the words a reject shows.
 */
export const NEGATIVE = -1;
export const NOT_A_NUMBER = -2;
export const TOO_LARGE = -3;

export function parseCountBytes(bytes: Uint8Array, start: number, end: number): number {
  start = skipBlanks(bytes, start, end);
  end = dropTrailingBlanks(bytes, start, end);
  if (start === end) return 0;
  let negative = false;
  if (bytes[start] === DASH && end - start > 1) {
    negative = true;
    start++;
  }
  let value = 0;
  for (let i = start; i < end; i++) {
    const byte = bytes[i] as number;
    if (byte < ZERO || byte > NINE) return NOT_A_NUMBER;
    value = value * 10 + (byte - ZERO);
  }
  if (negative) return NEGATIVE;
  return Number.isSafeInteger(value) ? value : TOO_LARGE;
}

/** Why a cell is not a count: `kind` groups rejects, `reason` shows the cell. */
export function describeCount(code: number, cell: string): { kind: RejectKind; reason: string } {
  const text = JSON.stringify(cell.trim());
  if (code === NEGATIVE) return { kind: "negative count", reason: `negative count ${cell.trim()}` };
  if (code === TOO_LARGE) return { kind: "count too large", reason: `count ${text} is too large` };
  return { kind: "not a whole number", reason: `not a whole number: ${text}` };
}
