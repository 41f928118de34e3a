import { VEHICLES, type Vehicle } from "../domain/columns.js";
import { type VehicleDeaths, zeroDeaths } from "../domain/deaths-aggregator.js";
import { type BarRow, renderBarChart } from "./bar-chart.js";
import { escapeHtml, formatCount, formatTime, nameHtml } from "./html.js";
import { REPORT_STYLE } from "./report-style.js";

/** One row of deaths_by_vehicle (the current figures). */
export interface FigureRow {
  source: string;
  road: string;
  vehicle: Vehicle;
  deaths: number;
}

/** Why rows were rejected, grouped by kind (the reason without the offending value), most common first. */
export interface RejectReasons {
  kinds: ReadonlyArray<{ kind: string; count: number; lines: readonly number[] }>;
  /** Rejects read from the object; less than the run's count when the object was too big to read whole. */
  counted: number;
}

/** A source's newest run, as pipeline_runs has it. */
export interface SourceRun {
  source: string;
  runId: string;
  status: "succeeded" | "rejected";
  ingestedAt: Date;
  finishedAt: Date;
  /** Already redacted when it was recorded. */
  origin: string | null;
  sha256: string | null;
  bytes: number | null;
  rowsRead: number;
  rowsAccepted: number;
  rowsRejected: number;
  totalDeaths: number;
  rejectsKey: string;
  error: string | null;
  /** From the rejects object, or why it could not be read. */
  reasons: RejectReasons | { unavailable: string };
}

export interface ReportData {
  generatedAt: Date;
  /** The bucket the object keys are in, when known. */
  bucket?: string | undefined;
  figures: readonly FigureRow[];
  /** When each source's current figures were captured (their snapshot's ingest time). */
  snapshots: ReadonlyArray<{ source: string; createdAt: Date }>;
  runs: readonly SourceRun[];
}

const WORST_ROADS = 10;

const VEHICLE_NAMES: Record<Vehicle, string> = {
  automovel: "car",
  bicicleta: "bicycle",
  caminhao: "truck",
  moto: "motorcycle",
  onibus: "bus",
};

/**
 * The whole report as one HTML document: inline CSS and SVG, no script, nothing fetched (its Content-Security-
 * Policy forbids any request), so it can be mailed, archived or opened from S3 as it is.
 */
export function renderReport(data: ReportData): string {
  const sources = [
    ...new Set([...data.figures.map((row) => row.source), ...data.runs.map((run) => run.source)]),
  ];
  const roads = new Set(data.figures.map((row) => `${row.source}\u0000${row.road}`)).size;
  const body = [
    `<header><h1>Road deaths by vehicle type</h1><p class="meta">Federal motorway concessions (ANTT open data) · ` +
      `${formatCount(sources.length)} sources · ${formatCount(roads)} source roads · generated ` +
      `${formatTime(data.generatedAt)}</p>` +
      `<p>A death counts once for <em>each</em> vehicle type involved in its accident, so the figures per vehicle ` +
      `do not add up to a death toll. Each source contributes its current snapshot only (table ` +
      `<code>deaths_by_vehicle</code>).</p>${legend()}</header>`,
    data.figures.length === 0
      ? `<section><h2>No figures yet</h2><p>The database holds no figures: run the pipeline first ` +
        `(<code>npm start</code>).</p></section>`
      : [overall(data.figures), perSource(data.figures), worstRoads(data.figures)].join("\n"),
    rejects(data),
    lineage(data),
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>roadtoll report</title>
<style>${REPORT_STYLE}</style>
</head>
<body>
<main>
${body.join("\n")}
</main>
</body>
</html>
`;
}

function legend(): string {
  const items = VEHICLES.map(
    (vehicle) =>
      `<li><span class="swatch v-${vehicle}" aria-hidden="true"></span>${vehicle} (${VEHICLE_NAMES[vehicle]})</li>`,
  );
  return `<ul class="legend" aria-label="Colours of the vehicle types">${items.join("")}</ul>`;
}

function overall(figures: readonly FigureRow[]): string {
  const totals = sumVehicleDeaths(figures);
  const chart = renderBarChart({
    id: "vehicles",
    title: "Deaths in accidents involving each vehicle type, all sources",
    description: VEHICLES.map((vehicle) => `${vehicle}: ${totals[vehicle]}`).join(", "),
    rows: VEHICLES.map((vehicle) => ({
      key: vehicle,
      label: vehicle,
      segments: [{ series: vehicle, value: totals[vehicle] }],
    })),
  });
  const rows = VEHICLES.map(
    (vehicle) =>
      `<tr><th scope="row">${vehicle} <span class="gloss">(${VEHICLE_NAMES[vehicle]})</span></th>` +
      `${cell("vehicles", vehicle, vehicle, totals[vehicle])}</tr>`,
  );
  return section(
    "vehicles",
    "Deaths per vehicle type",
    chart,
    `<table><caption>Deaths in accidents involving each vehicle type, all sources</caption>` +
      `<thead><tr><th scope="col">vehicle</th><th scope="col" class="num">deaths</th></tr></thead>` +
      `<tbody>${rows.join("")}</tbody></table>`,
  );
}

function perSource(figures: readonly FigureRow[]): string {
  const bySource = groupVehicleDeaths(figures, (row) => row.source);
  return stackedSection({
    id: "sources",
    heading: "Deaths per vehicle type, per source",
    description: "Deaths in accidents involving each vehicle type, stacked, one bar per source",
    rowHeader: "source",
    groups: sortByTotal(bySource),
  });
}

function worstRoads(figures: readonly FigureRow[]): string {
  // A road can be run by several concessionaires: its figures are summed over them.
  const byRoad = groupVehicleDeaths(figures, (row) => row.road);
  const sources = new Map<string, Set<string>>();
  for (const row of figures) sources.set(row.road, (sources.get(row.road) ?? new Set()).add(row.source));
  const worst = sortByTotal(byRoad).slice(0, WORST_ROADS);
  return stackedSection({
    id: "roads",
    heading: `The ${worst.length} worst roads`,
    description:
      "Deaths in accidents involving each vehicle type, stacked, one bar per road, all sources; an accident " +
      "involving two types counts in both, so a bar's length is not the road's death toll",
    rowHeader: "road",
    groups: worst,
    note: (key) =>
      `<span class="gloss">${escapeHtml([...(sources.get(key) ?? [])].sort().join(", "))}</span>`,
  });
}

function stackedSection(options: {
  id: string;
  heading: string;
  description: string;
  rowHeader: string;
  groups: ReadonlyArray<[string, VehicleDeaths]>;
  note?: (key: string) => string;
}): string {
  const { id, groups } = options;
  const rows: BarRow[] = groups.map(([key, deaths]) => ({
    key,
    label: key,
    segments: VEHICLES.map((vehicle) => ({ series: vehicle, value: deaths[vehicle] })),
  }));
  const chart = renderBarChart({ id, title: options.heading, description: options.description, rows });
  const lines = groups.map(
    ([key, deaths]) =>
      `<tr><th scope="row">${nameHtml(key)}${options.note ? ` ${options.note(key)}` : ""}</th>` +
      VEHICLES.map((vehicle) => cell(id, key, vehicle, deaths[vehicle])).join("") +
      `<td class="num sum">${formatCount(total(deaths))}</td></tr>`,
  );
  return section(
    id,
    options.heading,
    chart,
    `<table><caption>${escapeHtml(options.description)}</caption><thead><tr>` +
      `<th scope="col">${escapeHtml(options.rowHeader)}</th>` +
      VEHICLES.map((vehicle) => `<th scope="col" class="num">${vehicle}</th>`).join("") +
      `<th scope="col" class="num">sum</th></tr></thead><tbody>${lines.join("")}</tbody></table>`,
    true,
  );
}

function rejects(data: ReportData): string {
  if (data.runs.length === 0) return "";
  const rows = data.runs.map((run) => {
    const share = run.rowsRead > 0 ? `${((100 * run.rowsRejected) / run.rowsRead).toFixed(1)}%` : "–";
    return (
      `<tr><th scope="row">${nameHtml(run.source)}</th><td class="num">${formatCount(run.rowsRead)}</td>` +
      `<td class="num">${formatCount(run.rowsRejected)}</td><td class="num">${share}</td>` +
      `<td>${reasons(run)}</td><td class="wrap"><code>${escapeHtml(objectUri(data.bucket, run.rejectsKey))}</code></td></tr>`
    );
  });
  return (
    `<section id="rejects"><h2>Rejected rows per source</h2>` +
    `<p>Rows the deaths step could not read, in each source's newest run, with the reasons kept in its rejects ` +
    `object (line numbers are the source file's).</p><div class="scroll"><table>` +
    `<caption>Rejected rows and why, per source</caption><thead><tr><th scope="col">source</th>` +
    `<th scope="col" class="num">rows read</th><th scope="col" class="num">rejected</th>` +
    `<th scope="col" class="num">share</th><th scope="col">reasons</th><th scope="col">rejects object</th>` +
    `</tr></thead><tbody>${rows.join("")}</tbody></table></div></section>`
  );
}

function reasons(run: SourceRun): string {
  if (run.rowsRejected === 0) return "none";
  if ("unavailable" in run.reasons) {
    return `<span class="gloss">not read: ${escapeHtml(run.reasons.unavailable)}</span>`;
  }
  const { kinds, counted } = run.reasons;
  const items = kinds.map(
    ({ kind, count, lines }) =>
      `<li>${formatCount(count)} × ${escapeHtml(kind)} <span class="gloss">(line${lines.length > 1 ? "s" : ""} ` +
      `${lines.join(", ")}${count > lines.length ? ", …" : ""})</span></li>`,
  );
  const partial =
    counted < run.rowsRejected
      ? `<p class="gloss">The first ${formatCount(counted)} of ${formatCount(run.rowsRejected)} rejects.</p>`
      : "";
  return `<ul class="reasons">${items.join("")}</ul>${partial}`;
}

function lineage(data: ReportData): string {
  const snapshots = new Map(data.snapshots.map(({ source, createdAt }) => [source, createdAt]));
  const runs = new Map(data.runs.map((run) => [run.source, run]));
  const sources = [...new Set([...snapshots.keys(), ...runs.keys()])].sort();
  if (sources.length === 0) return "";
  const rows = sources.map((source) => {
    const run = runs.get(source);
    const snapshot = snapshots.get(source);
    const figures = snapshot
      ? run?.ingestedAt.getTime() === snapshot.getTime()
        ? "this run's"
        : `from ${formatTime(snapshot)}`
      : "none";
    if (!run) {
      return `<tr><th scope="row">${nameHtml(source)}</th><td colspan="9">no run recorded</td><td>${figures}</td></tr>`;
    }
    return (
      `<tr><th scope="row">${nameHtml(source)}</th>` +
      `<td><span class="status ${run.status}">${run.status}</span>` +
      `${run.error ? `<br><span class="gloss">${escapeHtml(run.error)}</span>` : ""}</td>` +
      `<td>${formatTime(run.ingestedAt)}</td><td>${formatTime(run.finishedAt)}</td>` +
      `<td class="wrap">${run.origin ? escapeHtml(run.origin) : "–"}</td>` +
      `<td class="wrap"><code>${run.sha256 ? escapeHtml(run.sha256) : "–"}</code></td>` +
      `<td class="num">${run.bytes === null ? "–" : formatCount(run.bytes)}</td>` +
      `<td class="num">${formatCount(run.rowsRead)} / ${formatCount(run.rowsAccepted)} / ` +
      `${formatCount(run.rowsRejected)}</td><td class="num">${formatCount(run.totalDeaths)}</td>` +
      `<td class="wrap"><code>${escapeHtml(objectUri(data.bucket, run.rejectsKey))}</code></td>` +
      `<td>${figures}</td></tr>`
    );
  });
  return (
    `<section id="lineage"><h2>Each source's newest run</h2><p>Where the figures come from (table ` +
    `<code>pipeline_runs</code>). Deaths count each accident once. "Current figures" says whether the figures ` +
    `above are this run's or an earlier run's (a rejected run leaves them as they were).</p>` +
    `<div class="scroll"><table><caption>The newest run of each source</caption><thead><tr>` +
    `<th scope="col">source</th><th scope="col">status</th><th scope="col">ingested</th>` +
    `<th scope="col">finished</th><th scope="col">origin</th><th scope="col">sha256</th>` +
    `<th scope="col" class="num">bytes</th><th scope="col" class="num">rows read / accepted / rejected</th>` +
    `<th scope="col" class="num">deaths</th><th scope="col">rejects object</th>` +
    `<th scope="col">current figures</th></tr></thead><tbody>${rows.join("")}</tbody></table></div></section>`
  );
}

/** A chart and its table side by side when the table is narrow; a wide table goes under its chart. */
function section(id: string, heading: string, chart: string, table: string, wide = false): string {
  return (
    `<section id="${id}"><h2>${escapeHtml(heading)}</h2><div class="${wide ? "stack" : "pair"}"><figure>${chart}</figure>` +
    `<div class="scroll">${table}</div></div></section>`
  );
}

/** A number the chart also draws: the same data-chart, data-row and data-series as its bar. */
function cell(chart: string, row: string, series: Vehicle, value: number): string {
  return (
    `<td class="num" data-chart="${escapeHtml(chart)}" data-row="${escapeHtml(row)}" data-series="${series}">` +
    `${formatCount(value)}</td>`
  );
}

function objectUri(bucket: string | undefined, key: string): string {
  return bucket ? `s3://${bucket}/${key}` : key;
}

function sumVehicleDeaths(figures: readonly FigureRow[]): VehicleDeaths {
  const totals = zeroDeaths();
  for (const row of figures) totals[row.vehicle] += row.deaths;
  return totals;
}

function groupVehicleDeaths(
  figures: readonly FigureRow[],
  by: (row: FigureRow) => string,
): Map<string, VehicleDeaths> {
  const groups = new Map<string, VehicleDeaths>();
  for (const row of figures) {
    const key = by(row);
    const deaths = groups.get(key) ?? zeroDeaths();
    deaths[row.vehicle] += row.deaths;
    groups.set(key, deaths);
  }
  return groups;
}

function total(deaths: VehicleDeaths): number {
  return VEHICLES.reduce((sum, vehicle) => sum + deaths[vehicle], 0);
}

/** Largest first; ties by name, so the report is the same for the same data. */
function sortByTotal(groups: Map<string, VehicleDeaths>): Array<[string, VehicleDeaths]> {
  return [...groups].sort(([a, x], [b, y]) => total(y) - total(x) || (a < b ? -1 : a > b ? 1 : 0));
}
