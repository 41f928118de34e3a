/**
 * The report's stylesheet, inlined: system fonts only (nothing to download), colours from the Okabe–Ito palette
 * (told apart with the common colour-vision deficiencies), long names and links that wrap, tables that scroll
 * sideways on a phone rather than squeezing, and colours kept when printed.
 */
export const REPORT_STYLE = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --rule: #d0d7de; --band: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  color: var(--ink); background: #fff; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
main { max-width: 1100px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: 0.2rem 0; }
h2 { font-size: 1.2rem; margin: 2rem 0 0.6rem; border-bottom: 1px solid var(--rule); padding-bottom: 0.2rem; }
.meta, .gloss { color: var(--muted); font-size: 0.9em; }
code { font: 0.85em ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.legend { list-style: none; padding: 0; margin: 0.5rem 0; display: flex; flex-wrap: wrap; gap: 0.3rem 1rem; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.35em; vertical-align: -0.1em;
  border-radius: 2px; }
.v-automovel { fill: #0072b2; background: #0072b2; }
.v-bicicleta { fill: #e69f00; background: #e69f00; }
.v-caminhao { fill: #009e73; background: #009e73; }
.v-moto { fill: #d55e00; background: #d55e00; }
.v-onibus { fill: #cc79a7; background: #cc79a7; }
.v-deaths { fill: #3d4451; background: #3d4451; }
.headline { font-size: 1.15rem; margin: 0.6rem 0; }
.left-out { border-left: 3px solid #e69f00; padding-left: 0.6rem; }
.pair { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1rem; align-items: start; }
.stack figure { max-width: 760px; margin-bottom: 0.8rem; }
figure { margin: 0; }
.chart { display: block; width: 100%; height: auto; }
.chart text { font-size: 12px; fill: var(--ink); dominant-baseline: central; }
.chart .label { text-anchor: end; }
.chart .axis { stroke: var(--muted); stroke-width: 1; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
caption { text-align: left; color: var(--muted); font-size: 0.85rem; padding-bottom: 0.3rem; }
th, td { padding: 0.25rem 0.5rem; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
thead th { background: var(--band); font-weight: 600; }
tbody th { font-weight: 500; overflow-wrap: anywhere; }
thead .group { text-align: center; font-weight: 500; color: var(--muted); }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.sum { color: var(--muted); }
.wrap { overflow-wrap: anywhere; min-width: 8rem; }
.reasons { margin: 0; padding-left: 1.1rem; }
.status { padding: 0 0.4em; border-radius: 3px; color: #fff; }
.status.succeeded { background: #1a7f37; }
.status.rejected { background: #cf222e; }
.status.forgotten { background: #57606a; }
@media (max-width: 760px) {
  .pair { grid-template-columns: 1fr; }
  main { padding: 0.6rem; }
  .chart text { font-size: 14px; }
}
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  section, figure, tr { break-inside: avoid; }
  .scroll { overflow: visible; }
}
`;
