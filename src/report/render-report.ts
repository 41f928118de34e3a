import { VEHICLES, type Vehicle } from "../domain/columns.js";
import type { VehicleDeaths } from "../domain/deaths-aggregator.js";
import { type BarSeries, renderBarChart } from "./bar-chart.js";
import { escapeHtml, formatCount, formatTime, nameHtml } from "./html.js";
import { REPORT_STYLE } from "./report-style.js";

/** Accidents and their deaths, each death once, and the years they fall in (accidents_by_road_year). */
export interface Counted {
  accidents: number;
  deaths: number;
  /** Null when no accident had a readable date. */
  firstYear: number | null;
  lastYear: number | null;
  /** Accidents without a readable date (counted, in no year). */
  undated: number;
}

/** A source's current figures. */
export interface SourceFigures {
  name: string;
  roads: number;
  /** When its snapshot was captured. */
  createdAt: Date;
  /** The metric: deaths in accidents involving each vehicle type (overlapping). */
  involving: VehicleDeaths;
  /** Null for a snapshot written before accidents were counted (migration 0005): its next run has them. */
  counted: Counted | null;
}

/** A road over every source that runs a stretch of it. */
export interface RoadFigures {
  name: string;
  sources: readonly string[];
  involving: VehicleDeaths;
  counted: Counted;
}

/** Why rows were rejected, by column and kind (domain/rejects.ts), most common first. */
export interface RejectReasons {
  /** `kind` as a person reads it (`mortos: negative count`); `lines`, the first few source lines of that kind. */
  kinds: ReadonlyArray<{ kind: string; count: number; lines: readonly number[] }>;
  /** Rejects the counts cover; less than the run's count when an older run's object was too big to read whole. */
  counted: number;
  /** Why no line could be shown, when the counts come from pipeline_runs but the rejects object is unreadable. */
  linesUnavailable?: string;
}

/** A source's newest run, as pipeline_runs has it. */
export interface SourceRun {
  source: string;
  runId: string;
  status: "succeeded" | "rejected" | "forgotten";
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
  rejectsKey: string | null;
  error: string | null;
  /** From the rejects object, or why it could not be read. */
  reasons: RejectReasons | { unavailable: string };
}

export interface ReportData {
  generatedAt: Date;
  /** The bucket the object keys are in, when known. */
  bucket?: string | undefined;
  /** Over every source (listed or not); null when there are no figures. */
  overall: {
    sources: number;
    roads: number;
    involving: VehicleDeaths;
    /** Null when no source's snapshot has accident counts. */
    counted: Counted | null;
  } | null;
  /** The sources with the most deaths first, at most a bounded number (load-report-data.ts). */
  sources: readonly SourceFigures[];
  unlistedSources: number;
  /** Ranked by deaths counted once. */
  worstRoads: readonly RoadFigures[];
  unlistedRoads: number;
  /** Sources whose snapshot has no accident counts, so no deaths counted once and no place in the ranking. */
  uncounted: readonly string[];
  runs: readonly SourceRun[];
  unlistedRuns: number;
  /** Sources left out of everything on purpose (the bundled samples), and what to do to see them. */
  leftOut: readonly string[];
  leftOutNote?: string;
}

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
 *
 * Its headline figures count each death once (accidents_by_road_year). The per-vehicle metric (deaths in
 * accidents involving a type) is shown beside them, never stacked or added up: an accident with a car and a truck
 * counts in both, so a sum of the metric overstates the toll.
 */
export function renderReport(data: ReportData): string {
  const { overall } = data;
  const body = [
    `<header><h1>Road deaths</h1><p class="meta">Federal motorway concessions (ANTT open data) · ` +
      `${formatCount(overall?.sources ?? 0)} sources · ${formatCount(overall?.roads ?? 0)} source roads · ` +
      `generated ${formatTime(data.generatedAt)}</p>${headline(data)}${leftOut(data)}</header>`,
    overall === null
      ? `<section><h2>No figures yet</h2><p>The database holds no figures: run the pipeline first ` +
        `(<code>npm start</code>).</p></section>`
      : [vehicles(overall), perSource(data), worstRoads(data)].join("\n"),
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

function headline(data: ReportData): string {
  const counted = data.overall?.counted;
  if (!counted) return "";
  return (
    `<p class="headline" id="headline"><strong data-figure="deaths">${formatCount(counted.deaths)}</strong> deaths ` +
    `in <strong data-figure="accidents">${formatCount(counted.accidents)}</strong> accidents, ` +
    `<span data-figure="years">${years(counted)}</span>, each death counted once ` +
    `(every source's current snapshot)${undated(counted)}.</p>`
  );
}

function leftOut(data: ReportData): string {
  if (data.leftOut.length === 0) return "";
  const names = data.leftOut.map((name) => nameHtml(name)).join(", ");
  return (
    `<p class="left-out" id="left-out">Left out of every figure below: ${formatCount(data.leftOut.length)} ` +
    `source${data.leftOut.length === 1 ? "" : "s"} (${names}).` +
    `${data.leftOutNote ? ` ${escapeHtml(data.leftOutNote)}` : ""}</p>`
  );
}

/** `2010–2022`, `2019`, or what stands in when no accident had a readable date. */
function years(counted: Counted): string {
  const { firstYear, lastYear } = counted;
  if (firstYear === null || lastYear === null) return "no readable dates";
  return firstYear === lastYear ? String(firstYear) : `${firstYear}–${lastYear}`;
}

function undated(counted: Counted): string {
  return counted.undated > 0
    ? `; ${formatCount(counted.undated)} of the accidents have no readable date and are in no year`
    : "";
}

function legend(): string {
  const items = VEHICLES.map(
    (vehicle) =>
      `<li><span class="swatch v-${vehicle}" aria-hidden="true"></span>${vehicle} (${VEHICLE_NAMES[vehicle]})</li>`,
  );
  return `<ul class="legend" aria-label="Colours of the vehicle types">${items.join("")}</ul>`;
}

function vehicles(overall: NonNullable<ReportData["overall"]>): string {
  const { involving } = overall;
  const span = overall.counted ? `, ${years(overall.counted)}` : "";
  const chart = renderBarChart({
    id: "vehicles",
    title: `Deaths in accidents involving each vehicle type, all sources${span}`,
    description: VEHICLES.map((vehicle) => `${vehicle}: ${involving[vehicle]}`).join(", "),
    rows: VEHICLES.map((vehicle) => ({
      key: vehicle,
      label: vehicle,
      segments: [{ series: vehicle, value: involving[vehicle] }],
    })),
  });
  const rows = VEHICLES.map(
    (vehicle) =>
      `<tr><th scope="row">${vehicle} <span class="gloss">(${VEHICLE_NAMES[vehicle]})</span></th>` +
      `${cell("vehicles", vehicle, vehicle, involving[vehicle])}</tr>`,
  );
  return section(
    "vehicles",
    "Deaths in accidents involving each vehicle type",
    `<p>All sources${span}. An accident involving a car and a truck counts its deaths in both rows, so the rows ` +
      `overlap and do not add up to a death toll; the deaths counted once are in the next sections.</p>${legend()}`,
    chart,
    `<table><caption>Deaths in accidents involving each vehicle type, all sources${span}</caption>` +
      `<thead><tr><th scope="col">vehicle</th><th scope="col" class="num">deaths in accidents involving it</th>` +
      `</tr></thead><tbody>${rows.join("")}</tbody></table>`,
  );
}

function perSource(data: ReportData): string {
  const span = data.overall?.counted ? years(data.overall.counted) : "";
  const more =
    data.unlistedSources > 0 ? ` The ${formatCount(data.unlistedSources)} others are not listed.` : "";
  return countedSection({
    id: "sources",
    heading: "Deaths per source",
    intro:
      `Deaths counted once per accident, in each source's current snapshot (${span}; each source's own years ` +
      `are in its row), most first.${more}${uncounted(data)}`,
    rowHeader: "source",
    rows: data.sources.map((source) => ({
      key: source.name,
      label: nameHtml(source.name),
      involving: source.involving,
      counted: source.counted,
    })),
  });
}

function worstRoads(data: ReportData): string {
  const span = data.overall?.counted ? years(data.overall.counted) : "";
  const more = data.unlistedRoads > 0 ? ` ${formatCount(data.unlistedRoads)} more roads are not listed.` : "";
  return countedSection({
    id: "roads",
    heading: `The ${data.worstRoads.length} worst roads`,
    intro:
      `Ranked by deaths counted once per accident, over every source that runs a stretch of the road ` +
      `(${span}; each road's years are in its row).${more}${uncounted(data)}`,
    rowHeader: "road",
    rows: data.worstRoads.map((road) => ({
      key: road.name,
      label: `${nameHtml(road.name)} <span class="gloss">${road.sources.map((source) => nameHtml(source)).join(", ")}</span>`,
      involving: road.involving,
      counted: road.counted,
    })),
  });
}

function uncounted(data: ReportData): string {
  if (data.uncounted.length === 0) return "";
  return (
    ` Without accident counts (a snapshot from before they were kept; the source's next run has them), so ` +
    `neither ranked nor in the deaths counted once: ${data.uncounted.map((name) => nameHtml(name)).join(", ")}.`
  );
}

/**
 * One bar per row: its deaths counted once. The table beside it has the accidents, the years and the metric per
 * vehicle, under a heading that says they overlap; nothing in it is a sum of the metric.
 */
function countedSection(options: {
  id: string;
  heading: string;
  intro: string;
  rowHeader: string;
  rows: ReadonlyArray<{ key: string; label: string; involving: VehicleDeaths; counted: Counted | null }>;
}): string {
  const { id, rows } = options;
  const chart = renderBarChart({
    id,
    title: options.heading,
    description: `Deaths counted once per accident, one bar per ${options.rowHeader}`,
    rows: rows
      .filter((row) => row.counted !== null)
      .map((row) => ({
        key: row.key,
        label: row.key,
        segments: [{ series: "deaths", value: row.counted?.deaths ?? 0 }],
      })),
  });
  const lines = rows.map(
    (row) =>
      `<tr><th scope="row">${row.label}</th>` +
      (row.counted
        ? `<td class="num">${years(row.counted)}</td><td class="num">${formatCount(row.counted.accidents)}</td>` +
          cell(id, row.key, "deaths", row.counted.deaths)
        : `<td class="num">–</td><td class="num">–</td><td class="num">–</td>`) +
      VEHICLES.map((vehicle) => `<td class="num">${formatCount(row.involving[vehicle])}</td>`).join("") +
      `</tr>`,
  );
  return section(
    id,
    options.heading,
    `<p>${options.intro}</p>`,
    chart,
    `<table><caption>${escapeHtml(options.heading)}: deaths counted once, and the deaths in accidents involving ` +
      `each vehicle type (overlapping)</caption><thead><tr>` +
      `<th scope="col" rowspan="2">${escapeHtml(options.rowHeader)}</th><th scope="col" rowspan="2" class="num">years</th>` +
      `<th scope="col" rowspan="2" class="num">accidents</th><th scope="col" rowspan="2" class="num">deaths</th>` +
      `<th scope="colgroup" colspan="${VEHICLES.length}" class="group">deaths in accidents involving ` +
      `(overlapping: not a breakdown)</th></tr><tr>` +
      VEHICLES.map((vehicle) => `<th scope="col" class="num">${VEHICLE_NAMES[vehicle]}</th>`).join("") +
      `</tr></thead><tbody>${lines.join("")}</tbody></table>`,
    true,
  );
}

function rejects(data: ReportData): string {
  // A forgotten source's newest run read no file.
  const runs = data.runs.filter((run) => run.status !== "forgotten");
  if (runs.length === 0) return "";
  const rows = runs.map((run) => {
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
  const { kinds, counted, linesUnavailable } = run.reasons;
  const items = kinds.map(
    ({ kind, count, lines }) =>
      `<li>${formatCount(count)} × ${escapeHtml(kind)}` +
      (lines.length === 0
        ? ""
        : ` <span class="gloss">(line${lines.length > 1 ? "s" : ""} ${lines.join(", ")}` +
          `${count > lines.length ? ", …" : ""})</span>`) +
      "</li>",
  );
  const partial =
    counted < run.rowsRejected
      ? `<p class="gloss">The first ${formatCount(counted)} of ${formatCount(run.rowsRejected)} rejects.</p>`
      : "";
  const noLines =
    linesUnavailable === undefined
      ? ""
      : `<p class="gloss">Lines not read: ${escapeHtml(linesUnavailable)}</p>`;
  return `<ul class="reasons">${items.join("")}</ul>${partial}${noLines}`;
}

function lineage(data: ReportData): string {
  const snapshots = new Map(data.sources.map(({ name, createdAt }) => [name, createdAt]));
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
      return `<tr><th scope="row">${nameHtml(source)}</th><td colspan="6">no run recorded</td><td>${figures}</td></tr>`;
    }
    const digest = run.sha256
      ? `<code title="${escapeHtml(run.sha256)}">${escapeHtml(run.sha256.slice(0, 12))}…</code>`
      : "–";
    return (
      `<tr><th scope="row">${nameHtml(source)}</th>` +
      `<td><span class="status ${run.status}">${run.status}</span>` +
      `${run.error ? `<br><span class="gloss wrap">${escapeHtml(run.error)}</span>` : ""}</td>` +
      `<td>${formatTime(run.ingestedAt)}<br><span class="gloss">finished ${formatTime(run.finishedAt)}</span></td>` +
      `<td class="wrap">${run.origin ? escapeHtml(run.origin) : "–"}<br><span class="gloss">sha256 ${digest}, ` +
      `${run.bytes === null ? "–" : formatCount(run.bytes)} bytes</span></td>` +
      `<td class="num">${formatCount(run.rowsRead)} / ${formatCount(run.rowsAccepted)} / ` +
      `${formatCount(run.rowsRejected)}</td><td class="num">${formatCount(run.totalDeaths)}</td>` +
      `<td>${figures}</td></tr>`
    );
  });
  const more =
    data.unlistedRuns > 0 ? ` The ${formatCount(data.unlistedRuns)} other sources' runs are not listed.` : "";
  return (
    `<section id="lineage"><h2>Each source's newest run</h2><p>Where the figures come from (table ` +
    `<code>pipeline_runs</code>; <code>roadtoll runs</code> lists every run). Deaths count each accident once. ` +
    `"Current figures" says whether the figures above are this run's or an earlier run's (a rejected run leaves ` +
    `them as they were).${more}</p>` +
    `<div class="scroll"><table class="lineage"><caption>The newest run of each source</caption><thead><tr>` +
    `<th scope="col">source</th><th scope="col">status</th><th scope="col">ingested</th>` +
    `<th scope="col">origin and file</th><th scope="col" class="num">rows read / accepted / rejected</th>` +
    `<th scope="col" class="num">deaths</th><th scope="col">current figures</th></tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table></div></section>`
  );
}

/** A chart and its table: side by side when the table is narrow, the table under its chart when wide. */
function section(
  id: string,
  heading: string,
  intro: string,
  chart: string,
  table: string,
  wide = false,
): string {
  return (
    `<section id="${id}"><h2>${escapeHtml(heading)}</h2>${intro}<div class="${wide ? "stack" : "pair"}">` +
    `<figure>${chart}</figure><div class="scroll">${table}</div></div></section>`
  );
}

/** A number the chart also draws: the same data-chart, data-row and data-series as its bar. */
function cell(chart: string, row: string, series: BarSeries, value: number): string {
  return (
    `<td class="num" data-chart="${escapeHtml(chart)}" data-row="${escapeHtml(row)}" data-series="${series}">` +
    `${formatCount(value)}</td>`
  );
}

function objectUri(bucket: string | undefined, key: string | null): string {
  if (key === null) return "–";
  return bucket ? `s3://${bucket}/${key}` : key;
}
