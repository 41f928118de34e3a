/**
 * Names from the files (roads, sources, reject reasons) are shown to people and handed to spreadsheets. Anything
 * in them can be hostile: a bidi override that shows "EVIL" as "LIVE", a terminal escape that clears the line, a
 * formula a spreadsheet runs, a name long enough to push a table off the screen. These make such text harmless
 * where it is shown, and leave the data itself (the database, the JSON outputs) as it was read.
 */

/**
 * Characters that are invisible or move other text: C0 and C1 controls and DEL (terminal escapes, bells, line
 * breaks), bidi embeddings, overrides, isolates and marks, and zero-width characters.
 */
const HIDDEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is made visible here.
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/** Each hidden character as a visible `<U+XXXX>`, so a reader sees it is there and nothing is reordered. */
export function visibleText(text: string): string {
  return text.replace(
    HIDDEN,
    (char) => `<U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}>`,
  );
}

/** How many characters of a name tables and charts show; the whole name stays in JSON and in the report's title. */
export const NAME_DISPLAY_MAX = 60;

/**
 * A name as a table or chart shows it: hidden characters made visible, then cut to `max` characters (whole code
 * points, never half a surrogate pair) with "…" at the end.
 */
export function displayText(text: string, max = NAME_DISPLAY_MAX): string {
  const visible = visibleText(text);
  const chars = Array.from(visible);
  return chars.length <= max ? visible : `${chars.slice(0, max - 1).join("")}…`;
}

const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?\d+(?:[.,]\d+)?$/;

/**
 * A CSV cell a spreadsheet will not run (OWASP "CSV Injection"): text that starts with `=`, `+`, `-`, `@`, a tab
 * or a carriage return gets a leading `'`, which spreadsheets take as "this is text" and do not display. A plain
 * number (`-3`, `+1.5`) is left alone: it is a value, not a formula.
 */
export function spreadsheetCell(text: string): string {
  return FORMULA_START.test(text) && !PLAIN_NUMBER.test(text) ? `'${text}` : text;
}
