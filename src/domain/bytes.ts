/**
 * The ASCII bytes the CSV hot paths test, and the two scans they all share, named once so the reader, the
 * cleaner and the deaths step agree on what a blank or a digit is. Each helper is small enough for V8 to inline,
 * so the hot loops keep working on bytes without a call per byte.
 */
export const TAB = 0x09;
export const LF = 0x0a;
export const CR = 0x0d;
export const SPACE = 0x20;
export const QUOTE = 0x22;
export const COMMA = 0x2c;
export const DASH = 0x2d;
export const SLASH = 0x2f;
export const ZERO = 0x30;
export const NINE = 0x39;
export const SEMICOLON = 0x3b;

/** The first index of [start, end) that is not a space or a tab (end when there is none). */
export function skipBlanks(bytes: Uint8Array, start: number, end: number): number {
  while (start < end && (bytes[start] === SPACE || bytes[start] === TAB)) start++;
  return start;
}

/** The end of [start, end) once trailing spaces and tabs are dropped. */
export function dropTrailingBlanks(bytes: Uint8Array, start: number, end: number): number {
  while (end > start && (bytes[end - 1] === SPACE || bytes[end - 1] === TAB)) end--;
  return end;
}

/** Whether bytes[start, end) holds exactly `known`. */
export function sameBytes(known: Uint8Array, bytes: Uint8Array, start: number, end: number): boolean {
  if (known.length !== end - start) return false;
  for (let i = 0; i < known.length; i++) if (known[i] !== bytes[start + i]) return false;
  return true;
}
