import { parseYearBytes, UNKNOWN_YEAR } from "./accident-year.js";
import { VEHICLES, type Vehicle } from "./columns.js";
import { describeCount, parseCountBytes } from "./count.js";
import type { CsvRecord } from "./csv-reader.js";

export type VehicleDeaths = Record<Vehicle, number>;

export interface RoadDeaths {
  road: string;
  /** Deaths per vehicle type involved (the metric). */
  deaths: VehicleDeaths;
  /** Deaths on the road, each accident counted once whatever vehicles it involved. */
  total: number;
}

/** One road's accidents in one year (accepted rows only): what per-road rates and trends are built from. */
export interface RoadYearFigures {
  road: string;
  /** From the `data` column; null when the file has none or the cell is not a date (see accident-year.ts). */
  year: number | null;
  accidents: number;
  /** Deaths, each accident once. */
  deaths: number;
  /** The metric, restricted to the year. */
  byVehicle: VehicleDeaths;
}

/** Where each column the metric reads sits in a row. */
export interface MetricColumns {
  roadName: number;
  mortos: number;
  /** The `data` column, which only the per-year figures read; undefined when the file has none. */
  date?: number | undefined;
  vehicles: ReadonlyArray<readonly [Vehicle, number]>;
}

export interface RowRejection {
  column: string | undefined;
  /** The reason without the offending value, for grouping: `mortos: negative count`. */
  kind: string;
  reason: string;
}

export function zeroDeaths(): VehicleDeaths {
  return { automovel: 0, bicicleta: 0, caminhao: 0, moto: 0, onibus: 0 };
}

interface YearTotals {
  year: number;
  accidents: number;
  deaths: number;
  /** Indexed like VEHICLES. */
  byVehicle: number[];
}

/** A road's figures are kept per year only, and summed when asked: one bucket to add to per row, not two. */
interface RoadTotals {
  years: Map<number, YearTotals>;
  /** The bucket the previous row of this road went to: rows of a road mostly come in date order. */
  last: YearTotals | undefined;
}

const NO_ROAD: RowRejection = { column: "trecho", kind: "trecho: no road name", reason: "no road name" };
const TOO_MANY_DEATHS: RowRejection = {
  column: "mortos",
  kind: "mortos: file total too large",
  reason: `with this row the file's deaths would pass ${Number.MAX_SAFE_INTEGER.toLocaleString("en-US")}`,
};
const SPACE = 0x20;
const TAB = 0x09;

/**
 * The metric: for each road and vehicle type, the sum of `mortos` over the accidents in which at least one
 * vehicle of that type was involved (its count is > 0). An accident with several of the five types counts its
 * deaths once for each of them, so the per-vehicle figures do not add up to the road's total deaths, by design.
 * Every road that has at least one valid row gets all five vehicles, zeros included.
 *
 * Rows are read from the reader's byte offsets: counts and the year are parsed from bytes, and a road name is
 * decoded only when its bytes differ from the previous row's (rows of one road come in runs), so an accepted row
 * usually costs no string at all. Alongside the metric, each road's accepted rows are counted per year
 * (`roadYears`); the `data` column is read for that only, and never rejects a row.
 */
export class DeathsAggregator {
  private readonly roads = new Map<string, RoadTotals>();
  private readonly vehiclePositions: number[];
  private accepted = 0;
  private deathsInAcceptedRows = 0;
  private lastRoadBytes: Buffer = Buffer.alloc(0);
  private lastRoad: RoadTotals | undefined;

  constructor(private readonly columns: MetricColumns) {
    this.vehiclePositions = columns.vehicles.map(([, position]) => position);
  }

  /** Adds a row, or says why it cannot be counted; a rejected row changes nothing. */
  add(record: CsvRecord): RowRejection | undefined {
    const bytes = record.buffer;
    const field = this.columns.roadName;
    let start = 0;
    let end = 0;
    if (field < record.count) {
      start = record.starts[field] as number;
      end = record.ends[field] as number;
      while (start < end && (bytes[start] === SPACE || bytes[start] === TAB)) start++;
      while (end > start && (bytes[end - 1] === SPACE || bytes[end - 1] === TAB)) end--;
    }
    if (start === end) return NO_ROAD;

    const mortos = this.count(record, this.columns.mortos);
    if (mortos < 0) return this.rejectCount(record, this.columns.mortos, "mortos", mortos);
    // Validate every vehicle before touching the totals, so a bad row never half-counts.
    let involved = 0;
    const positions = this.vehiclePositions;
    for (let v = 0; v < positions.length; v++) {
      const count = this.count(record, positions[v] as number);
      if (count < 0) return this.rejectCount(record, positions[v] as number, VEHICLES[v] as string, count);
      if (count > 0) involved |= 1 << v;
    }

    // Every figure of the file (a road's, a year's, a vehicle's) is at most this total: kept exact in a number,
    // and within the database's bigint. The row that would pass it is rejected, not the file.
    if (mortos > Number.MAX_SAFE_INTEGER - this.deathsInAcceptedRows) return TOO_MANY_DEATHS;

    let totals = this.lastRoad;
    if (totals === undefined || !sameBytes(this.lastRoadBytes, bytes, start, end)) {
      const road = record.text(field).trim();
      if (road === "") return NO_ROAD;
      totals = this.roads.get(road);
      if (!totals) {
        totals = { years: new Map(), last: undefined };
        this.roads.set(road, totals);
      }
      this.lastRoad = totals;
      this.lastRoadBytes = Buffer.from(bytes.subarray(start, end));
    }

    const date = this.columns.date;
    const year =
      date === undefined || date >= record.count
        ? UNKNOWN_YEAR
        : parseYearBytes(bytes, record.starts[date] as number, record.ends[date] as number);
    let bucket = totals.last;
    if (bucket === undefined || bucket.year !== year) {
      bucket = totals.years.get(year);
      if (!bucket) {
        bucket = { year, accidents: 0, deaths: 0, byVehicle: [0, 0, 0, 0, 0] };
        totals.years.set(year, bucket);
      }
      totals.last = bucket;
    }

    bucket.accidents++;
    bucket.deaths += mortos;
    if (involved !== 0) {
      for (let v = 0; v < positions.length; v++) {
        if (involved & (1 << v)) (bucket.byVehicle[v] as number) += mortos;
      }
    }
    this.accepted++;
    this.deathsInAcceptedRows += mortos;
    return undefined;
  }

  get rowsAccepted(): number {
    return this.accepted;
  }

  /** Sum of `mortos` over accepted rows, whichever vehicles were involved. */
  get totalDeaths(): number {
    return this.deathsInAcceptedRows;
  }

  /** Roads sorted by name, each with all five vehicles. */
  result(): RoadDeaths[] {
    return this.sortedRoads().map(([road, { years }]) => {
      const byVehicle = zeroDeaths();
      let total = 0;
      for (const bucket of years.values()) {
        total += bucket.deaths;
        addVehicles(byVehicle, bucket.byVehicle);
      }
      return { road, deaths: byVehicle, total };
    });
  }

  /** Each road's figures per year, sorted by road, then year, the unknown year last. */
  roadYears(): RoadYearFigures[] {
    return this.sortedRoads().flatMap(([road, { years }]) =>
      [...years.values()]
        .sort((a, b) => yearOrder(a.year) - yearOrder(b.year))
        .map(({ year, accidents, deaths, byVehicle }) => {
          const figures = zeroDeaths();
          addVehicles(figures, byVehicle);
          return { road, year: year === UNKNOWN_YEAR ? null : year, accidents, deaths, byVehicle: figures };
        }),
    );
  }

  private sortedRoads(): [string, RoadTotals][] {
    return [...this.roads.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** A missing cell (a short row) reads as 0, like an empty one. */
  private count(record: CsvRecord, field: number): number {
    if (field >= record.count) return 0;
    return parseCountBytes(record.buffer, record.starts[field] as number, record.ends[field] as number);
  }

  private rejectCount(record: CsvRecord, field: number, column: string, code: number): RowRejection {
    const { kind, reason } = describeCount(code, record.text(field));
    return { column, kind: `${column}: ${kind}`, reason };
  }
}

function addVehicles(into: VehicleDeaths, byVehicle: readonly number[]): void {
  VEHICLES.forEach((vehicle, v) => {
    into[vehicle] += byVehicle[v] as number;
  });
}

function yearOrder(year: number): number {
  return year === UNKNOWN_YEAR ? Number.MAX_SAFE_INTEGER : year;
}

function sameBytes(known: Buffer, bytes: Buffer, start: number, end: number): boolean {
  if (known.length !== end - start) return false;
  for (let i = 0; i < known.length; i++) if (known[i] !== bytes[start + i]) return false;
  return true;
}

export function metricColumnsFrom(index: ReadonlyMap<string, number>, roadNameColumn: string): MetricColumns {
  const at = (name: string): number => {
    const position = index.get(name);
    if (position === undefined) throw new Error(`column ${name} missing from a validated header`);
    return position;
  };
  return {
    roadName: at(roadNameColumn),
    mortos: at("mortos"),
    date: index.get("data"),
    vehicles: VEHICLES.map((vehicle) => [vehicle, at(vehicle)] as const),
  };
}
