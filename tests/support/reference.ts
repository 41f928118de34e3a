/**
 * An independent implementation of the metric, written for the tests only: no streams, no csv-parse, no shared
 * code with src/. It reads a whole source file (fine for test-sized inputs) and applies the documented
 * semantics directly, so a test comparing it with the pipeline checks the pipeline against the README, not
 * against itself.
 */
import { TextDecoder } from "node:util";

export const VEHICLE_NAMES = ["automovel", "bicicleta", "caminhao", "moto", "onibus"] as const;
type VehicleName = (typeof VEHICLE_NAMES)[number];

export interface ReferenceResult {
  /** road → vehicle → deaths in accidents involving that vehicle. */
  roads: Map<string, Record<VehicleName, number>>;
  /** Deaths per vehicle summed over roads. */
  byVehicle: Record<VehicleName, number>;
  totalDeaths: number;
  accepted: number;
  /** Source line numbers of rejected rows. */
  rejectedLines: number[];
}

export function decodeSource(bytes: Buffer): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return bytes.subarray(3).toString("utf8");
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return bytes.toString("latin1");
  }
}

/** The README's road-name rules, written a second time, differently. */
export function referenceRoad(trecho: string): string {
  const words = trecho
    .normalize("NFD")
    .replace(/\p{Mn}/gu, "")
    .toUpperCase()
    .split(" ")
    .filter((word) => word.length > 0)
    .join(" ");
  const federal = words.match(/^BR\s?-?\s?(\d+)\s?\/\s?([A-Z][A-Z])/);
  if (federal?.[1] && federal[2]) {
    return `BR-${String(Number(federal[1])).padStart(3, "0")}/${federal[2]}`;
  }
  const state = words.match(/^([A-Z][A-Z])\s?-\s?(\d+)$/) ?? words.match(/^(\d+)\s?\/\s?([A-Z][A-Z])$/);
  if (state?.[1] && state[2]) {
    const [uf, number] = /^\d/.test(state[1]) ? [state[2], state[1]] : [state[1], state[2]];
    return `${uf}-${String(Number(number)).padStart(3, "0")}`;
  }
  return words;
}

function count(cell: string | undefined): number | undefined {
  const text = (cell ?? "").trim();
  if (text === "") return 0;
  return /^[0-9]+$/.test(text) ? Number.parseInt(text, 10) : undefined;
}

export function referenceDeaths(bytes: Buffer): ReferenceResult {
  const lines = decodeSource(bytes).split("\n");
  const header = (lines[0] ?? "")
    .replace(/\r$/, "")
    .split(";")
    .map((name) => name.trim().toLowerCase());
  const at = (name: string) => header.indexOf(name);
  const roads = new Map<string, Record<VehicleName, number>>();
  const byVehicle = Object.fromEntries(VEHICLE_NAMES.map((name) => [name, 0])) as Record<VehicleName, number>;
  let totalDeaths = 0;
  let accepted = 0;
  const rejectedLines: number[] = [];

  lines.forEach((raw, index) => {
    const line = raw.replace(/\r$/, "");
    if (index === 0 || line === "") return;
    const cells = line.split(";");
    const road = referenceRoad(cells[at("trecho")] ?? "");
    const deaths = count(cells[at("mortos")]);
    const vehicles = VEHICLE_NAMES.map((name) => count(cells[at(name)]));
    if (
      cells.length !== header.length ||
      road === "" ||
      deaths === undefined ||
      vehicles.includes(undefined)
    ) {
      rejectedLines.push(index + 1);
      return;
    }
    accepted++;
    totalDeaths += deaths;
    const totals =
      roads.get(road) ??
      (Object.fromEntries(VEHICLE_NAMES.map((name) => [name, 0])) as Record<VehicleName, number>);
    roads.set(road, totals);
    VEHICLE_NAMES.forEach((name, i) => {
      if ((vehicles[i] ?? 0) > 0) {
        totals[name] += deaths;
        byVehicle[name] += deaths;
      }
    });
  });
  return { roads, byVehicle, totalDeaths, accepted, rejectedLines };
}
