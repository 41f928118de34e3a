import { DASH, dropTrailingBlanks, SLASH, skipBlanks, ZERO } from "./bytes.js";

/**
 * The year of an accident, read straight from the bytes of its `data` cell, so the deaths step's hot path
 * allocates nothing for it. ANTT writes `dd/mm/yyyy` (every row of the 18 real files); `yyyy-mm-dd` is read too,
 * for a file someone has reformatted. Spaces and tabs around the date are ignored, as around a count.
 *
 * A date that does not read as one gives UNKNOWN_YEAR rather than rejecting the row: the metric never read the
 * date, and a row docs/numbers.md says is valid must stay valid. The row then counts under an unknown year.
 */
export const UNKNOWN_YEAR = 0;

export function parseYearBytes(bytes: Uint8Array, start: number, end: number): number {
  start = skipBlanks(bytes, start, end);
  end = dropTrailingBlanks(bytes, start, end);
  const length = end - start;
  if (length === 10 && bytes[start + 4] === DASH && bytes[start + 7] === DASH) {
    const year = digits(bytes, start, start + 4);
    const valid = dayAndMonth(digits(bytes, start + 8, start + 10), digits(bytes, start + 5, start + 7));
    return valid && year > 0 ? year : UNKNOWN_YEAR;
  }
  if (length < 8 || length > 10) return UNKNOWN_YEAR;
  // d/m/yyyy, with one or two digits for the day and the month.
  if (bytes[end - 5] !== SLASH) return UNKNOWN_YEAR;
  const daySlash = bytes[start + 1] === SLASH ? start + 1 : bytes[start + 2] === SLASH ? start + 2 : -1;
  if (daySlash < 0 || end - 5 - daySlash - 1 < 1 || end - 5 - daySlash - 1 > 2) return UNKNOWN_YEAR;
  const valid = dayAndMonth(digits(bytes, start, daySlash), digits(bytes, daySlash + 1, end - 5));
  const year = digits(bytes, end - 4, end);
  return valid && year > 0 ? year : UNKNOWN_YEAR;
}

/** The number the digits spell, or -1 when a byte is not a digit. */
function digits(bytes: Uint8Array, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = (bytes[i] as number) - ZERO;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

function dayAndMonth(day: number, month: number): boolean {
  return day >= 1 && day <= 31 && month >= 1 && month <= 12;
}
