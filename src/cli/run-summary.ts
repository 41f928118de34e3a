import { VEHICLES } from "../domain/columns.js";
import { displayText } from "../domain/safe-text.js";
import type { DeathsSummary } from "../pipeline/deaths-step.js";
import { textTable } from "./text-table.js";

/** Renders rows as an aligned text table; a column of numbers right-aligned. */
export function table(
  headers: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number>>,
): string {
  // Names come from the files: shown with hidden characters visible and long ones cut (src/domain/safe-text.ts).
  const cells = rows.map((row) => row.map((cell) => displayText(String(cell))));
  const align = headers.map((_, column) =>
    rows.length > 0 && rows.every((row) => typeof row[column] === "number") ? "right" : "left",
  );
  return textTable(
    headers.map((header) => displayText(header)),
    cells,
    align,
  );
}

/** The human report printed at the end of a local run. */
export function renderResults(summaries: readonly DeathsSummary[]): string {
  const totals = table(
    ["source", "rows", "rejected", "roads", "deaths", ...VEHICLES],
    summaries.map((summary) => [
      summary.source,
      summary.rowsRead,
      summary.rowsRejected,
      summary.roads,
      summary.totalDeaths,
      ...VEHICLES.map((vehicle) => summary.deathsByVehicle[vehicle]),
    ]),
  );
  const worst = table(
    ["source", "road", "deaths", ...VEHICLES],
    summaries.flatMap((summary) =>
      summary.worstRoads.map((road) => [
        summary.source,
        road.road,
        road.deaths,
        ...VEHICLES.map((vehicle) => road.byVehicle[vehicle]),
      ]),
    ),
  );
  const rejects = summaries
    .filter((summary) => summary.rowsRejected > 0)
    .map((summary) => {
      const sample = summary.rejects.sample.map(
        (reject) =>
          `    line ${reject.line}${reject.column ? `, column ${reject.column}` : ""}: ${reject.reason}`,
      );
      const more = summary.rowsRejected - summary.rejects.sample.length;
      return [
        `  ${summary.source}: s3://${summary.rejects.bucket}/${summary.rejects.key}`,
        ...sample,
        ...(more > 0 ? [`    … and ${more} more (all ${summary.rowsRejected} in the file above)`] : []),
      ].join("\n");
    });
  return [
    "Deaths by vehicle (table deaths_by_vehicle; a death counts once for each vehicle type involved)",
    totals,
    "",
    "Worst roads (deaths, each accident once)",
    worst,
    ...(rejects.length > 0 ? ["", "Rejected rows", ...rejects] : []),
  ].join("\n");
}
