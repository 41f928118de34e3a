import type { Vehicle } from "../domain/columns.js";
import { displayText } from "../domain/safe-text.js";
import { escapeHtml, formatCount } from "./html.js";

/** A vehicle type (the metric), or deaths counted once. */
export type BarSeries = Vehicle | "deaths";

export interface BarSegment {
  series: BarSeries;
  value: number;
}

export interface BarRow {
  /** What the table next to the chart calls this row (its data-row): a vehicle, source or road. */
  key: string;
  label: string;
  /** One segment is a plain bar; several are stacked, in order. */
  segments: readonly BarSegment[];
}

export interface BarChartSpec {
  /** Also the data-chart of the table cells that carry the same numbers. */
  id: string;
  title: string;
  description: string;
  rows: readonly BarRow[];
}

// viewBox units: the SVG scales to its container, so these are proportions, not pixels.
const WIDTH = 600;
const LABEL = 200;
const VALUE = 56;
const ROW = 28;
const BAR = 18;
const PAD = 6;
// Longer labels would run into the bars; the table next to the chart has the name.
const MAX_LABEL = 22;

/**
 * A horizontal bar chart as inline SVG: one row per entry, its segments stacked from a shared zero, all rows on
 * one linear scale (the longest row fills the plot). Every segment carries data-chart, data-row, data-series and
 * data-value, so what a browser draws can be checked against the table cell with the same attributes.
 */
export function renderBarChart(spec: BarChartSpec): string {
  const plot = WIDTH - LABEL - VALUE;
  const totals = spec.rows.map((row) => row.segments.reduce((sum, segment) => sum + segment.value, 0));
  const max = Math.max(0, ...totals);
  const scale = max > 0 ? plot / max : 0;
  const height = PAD * 2 + spec.rows.length * ROW;
  const rows = spec.rows.map((row, i) => {
    const y = PAD + i * ROW;
    const middle = y + BAR / 2;
    let offset = 0;
    const segments = row.segments.map((segment) => {
      const x = LABEL + offset * scale;
      offset += segment.value;
      return (
        `<rect class="v-${segment.series}" x="${round(x)}" y="${y}" width="${round(segment.value * scale)}" ` +
        `height="${BAR}" data-chart="${escapeHtml(spec.id)}" data-row="${escapeHtml(row.key)}" ` +
        `data-series="${segment.series}" data-value="${segment.value}">` +
        `<title>${escapeHtml(row.label)}, ${segment.series}: ${formatCount(segment.value)}</title></rect>`
      );
    });
    const total = totals[i] ?? 0;
    return (
      `<g><text class="label" x="${LABEL - 8}" y="${middle}">${escapeHtml(displayText(row.label, MAX_LABEL))}</text>` +
      segments.join("") +
      `<text class="total" x="${round(LABEL + total * scale + 6)}" y="${middle}">${formatCount(total)}</text></g>`
    );
  });
  const titleId = `${spec.id}-title`;
  const descId = `${spec.id}-desc`;
  return (
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" ` +
    `aria-labelledby="${escapeHtml(titleId)} ${escapeHtml(descId)}" data-chart="${escapeHtml(spec.id)}">` +
    `<title id="${escapeHtml(titleId)}">${escapeHtml(spec.title)}</title>` +
    `<desc id="${escapeHtml(descId)}">${escapeHtml(spec.description)}</desc>` +
    `<line class="axis" x1="${LABEL}" y1="0" x2="${LABEL}" y2="${height}"/>` +
    `${rows.join("")}</svg>`
  );
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
