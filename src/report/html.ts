import { displayText, NAME_DISPLAY_MAX, visibleText } from "../domain/safe-text.js";

/**
 * Text for HTML: every value in the report comes from outside (source and road names from the files, origins
 * from links), so each one is escaped, in text and in attributes alike, and its hidden characters (bidi
 * overrides, controls) are shown as `<U+XXXX>` rather than allowed to reorder what is around them.
 */
export function escapeHtml(value: string | number): string {
  return visibleText(String(value)).replace(/[&<>"']/g, (char) => ENTITIES[char] ?? char);
}

/**
 * A name as a table shows it: escaped, and cut to `max` characters when longer (a road name without spaces would
 * otherwise stretch its table), the whole name then kept in the cell's title.
 */
export function nameHtml(name: string, max = NAME_DISPLAY_MAX): string {
  const shown = displayText(name, max);
  return shown === visibleText(name)
    ? escapeHtml(shown)
    : `<span title="${escapeHtml(name)}">${escapeHtml(shown)}</span>`;
}

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** A whole number as the tables show it (`1,234`): a fixed locale, so the report is the same on any machine. */
export function formatCount(value: number): string {
  return value.toLocaleString("en-US");
}

/** `2025-03-01 12:00:00 UTC` inside a <time> element carrying the exact instant. */
export function formatTime(date: Date): string {
  const iso = date.toISOString();
  return `<time datetime="${iso}">${iso.slice(0, 19).replace("T", " ")} UTC</time>`;
}
