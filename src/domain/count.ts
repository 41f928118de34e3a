/**
 * Reads a count cell. ANTT leaves a cell empty, or fills it with spaces, when the count is zero; anything else
 * must be a plain non-negative integer. A negative count (some files have `-1` trucks) is not a count we can
 * interpret, so the row is rejected rather than guessed at.
 */
export type CountResult = { ok: true; value: number } | { ok: false; reason: string };

const DIGITS = /^\d+$/;

export function parseCount(cell: string | undefined): CountResult {
  const text = (cell ?? "").trim();
  if (text === "") return { ok: true, value: 0 };
  if (DIGITS.test(text)) {
    const value = Number(text);
    if (Number.isSafeInteger(value)) return { ok: true, value };
    return { ok: false, reason: `count ${JSON.stringify(text)} is too large` };
  }
  if (/^-\d+$/.test(text)) return { ok: false, reason: `negative count ${text}` };
  return { ok: false, reason: `not a whole number: ${JSON.stringify(text)}` };
}
