/**
 * An independent implementation of the metric, written for the tests only: no streams, no csv-parse, no shared
 * code with src/. It reads a whole source file (fine for test-sized inputs) and applies the documented
 * semantics directly, so a test comparing it with the pipeline checks the pipeline against docs/numbers.md, not
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
  /** Accepted rows per road, with their deaths counted once each. */
  accidentsByRoad: Map<string, AccidentFigures>;
  /** The same per year of `data` (null: no readable date), with the metric restricted to the year. */
  years: Map<number | null, AccidentFigures & { byVehicle: Record<VehicleName, number> }>;
}

export interface AccidentFigures {
  accidents: number;
  deaths: number;
}

/**
 * The year of a `data` cell as docs/numbers.md describes it: `dd/mm/yyyy` (day and month of one or two digits) or
 * `yyyy-mm-dd`, spaces around ignored; anything else, or a day or month out of range, is no year at all.
 */
export function referenceYear(cell: string | undefined): number | null {
  const text = (cell ?? "").trim();
  const brazilian = /^(\d\d?)\/(\d\d?)\/(\d{4})$/.exec(text);
  const iso = /^(\d{4})-(\d\d)-(\d\d)$/.exec(text);
  const [day, month, year] = brazilian
    ? [brazilian[1], brazilian[2], brazilian[3]]
    : iso
      ? [iso[3], iso[2], iso[1]]
      : [];
  if (day === undefined || month === undefined || year === undefined) return null;
  const ok = Number(day) >= 1 && Number(day) <= 31 && Number(month) >= 1 && Number(month) <= 12;
  return ok && Number(year) > 0 ? Number(year) : null;
}

export function decodeSource(bytes: Buffer): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return bytes.subarray(3).toString("utf8");
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return bytes.toString("latin1");
  }
}

/** The road-name rules of docs/numbers.md, written a second time, differently. */
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
  const accidentsByRoad = new Map<string, AccidentFigures>();
  const years: ReferenceResult["years"] = new Map();

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
    const onRoad = accidentsByRoad.get(road) ?? { accidents: 0, deaths: 0 };
    accidentsByRoad.set(road, { accidents: onRoad.accidents + 1, deaths: onRoad.deaths + deaths });
    const year = referenceYear(at("data") < 0 ? undefined : cells[at("data")]);
    const inYear = years.get(year) ?? {
      accidents: 0,
      deaths: 0,
      byVehicle: Object.fromEntries(VEHICLE_NAMES.map((name) => [name, 0])) as Record<VehicleName, number>,
    };
    years.set(year, inYear);
    inYear.accidents++;
    inYear.deaths += deaths;
    const totals =
      roads.get(road) ??
      (Object.fromEntries(VEHICLE_NAMES.map((name) => [name, 0])) as Record<VehicleName, number>);
    roads.set(road, totals);
    VEHICLE_NAMES.forEach((name, i) => {
      if ((vehicles[i] ?? 0) > 0) {
        totals[name] += deaths;
        byVehicle[name] += deaths;
        inYear.byVehicle[name] += deaths;
      }
    });
  });
  return { roads, byVehicle, totalDeaths, accepted, rejectedLines, accidentsByRoad, years };
}
