import { parseYearBytes, UNKNOWN_YEAR } from "./accident-year.js";
import { dropTrailingBlanks, sameBytes, skipBlanks } from "./bytes.js";
import { VEHICLES, type Vehicle } from "./columns.js";
import { describeCount, parseCountBytes } from "./count.js";
import type { CsvRecord } from "./csv-reader.js";
import type { RejectKind } from "./rejects.js";

export type VehicleDeaths = Record<Vehicle, number>;

export interface RoadDeaths {
  road: string;
  /** Deaths per vehicle type involved (the metric): overlapping, so they do not add up to `total`. */
  byVehicle: VehicleDeaths;
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

/**
 * Why a row cannot be counted. A `fatal` one means the file cannot be counted either: the step fails there (see
 * DeathsLimits), so it has no reject kind.
 */
export type RowRejection =
  | { column: string; kind: RejectKind; reason: string; fatal?: undefined }
  | { column: string; reason: string; fatal: true };

/**
 * What one step holds in memory is bounded by the distinct road-years of a file (each road with each year it has
 * rows in), never by its rows: about 250 bytes each at peak, with the garbage a run leaves (2,000,000 measured
 * at 550 MB peak RSS for the whole computation). Past the limit the file fails, at the row that passes it, rather
 * than the process running out of memory; real sources have a few hundred.
 */
export interface DeathsLimits {
  maxRoadYears?: number | undefined;
}

/** Fits the deaths function's 1,024 MB (template.yaml) with room; raise both together (`MAX_ROAD_YEARS`). */
export const DEFAULT_MAX_ROAD_YEARS = 2_500_000;

export function zeroDeaths(): VehicleDeaths {
  return { automovel: 0, bicicleta: 0, caminhao: 0, moto: 0, onibus: 0 };
}

/**
 * Per road and year, in one slot of a bucket store: the year, accidents, deaths, the five vehicles' deaths and the
 * next bucket of the same road (-1 at the end). Kept in fixed-size Float64Array chunks rather than objects: a
 * file of millions of distinct roads then costs tens of bytes per road and year, and the store grows without
 * ever copying what it holds. Every value is an integer below 2^53 (see TOO_MANY_DEATHS), so a double is exact.
 */
const YEAR = 0;
const ACCIDENTS = 1;
const DEATHS = 2;
const VEHICLE_0 = 3;
const NEXT = VEHICLE_0 + VEHICLES.length;
const STRIDE = NEXT + 1;
const CHUNK_SHIFT = 14;
const CHUNK_BUCKETS = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK_BUCKETS - 1;
const NONE = -1;

const NO_ROAD: RowRejection = { column: "trecho", kind: "no road name", reason: "no road name" };
const TOO_MANY_DEATHS: RowRejection = {
  column: "mortos",
  kind: "file total too large",
  reason: `with this row the file's deaths would pass ${Number.MAX_SAFE_INTEGER.toLocaleString("en-US")}`,
};

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
 *
 * Memory grows with the distinct roads and road-years, never with rows: a road costs its name, a map entry and a
 * 72-byte bucket per year it has rows in. The figures are read back road by road (`roads`, `roadYears`) so that
 * no list of every road's objects is ever built.
 */
export class DeathsAggregator {
  /** Road name to road number; the number indexes `names`, `firstBucket` and `lastBucket`. */
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  private firstBucket = new Int32Array(1024);
  /** The bucket the road's previous row went to: rows of a road mostly come in date order. */
  private lastBucket = new Int32Array(1024);
  private readonly chunks: Float64Array[] = [];
  private buckets = 0;
  private readonly vehiclePositions: number[];
  private accepted = 0;
  private deathsInAcceptedRows = 0;
  private lastRoadBytes: Buffer = Buffer.alloc(0);
  private lastRoad = NONE;
  private sorted: Int32Array | undefined;
  /** The previous row's bucket, read straight from its chunk while rows keep to one road and year. */
  private bucketChunk: Float64Array = new Float64Array(STRIDE);
  private bucketAt = 0;
  private bucketYear = NONE;

  private readonly maxRoadYears: number;
  private readonly tooManyRoadYears: RowRejection;

  constructor(
    private readonly columns: MetricColumns,
    limits: DeathsLimits = {},
  ) {
    this.vehiclePositions = columns.vehicles.map(([, position]) => position);
    this.maxRoadYears = limits.maxRoadYears ?? DEFAULT_MAX_ROAD_YEARS;
    const limit = this.maxRoadYears.toLocaleString("en-US");
    this.tooManyRoadYears = {
      column: "trecho",
      reason:
        `with this row the file has more than ${limit} distinct road-years (each road with each year it has rows ` +
        `in), which the deaths step keeps in memory; split the file by year or region, or raise MAX_ROAD_YEARS ` +
        `with the function's memory`,
      fatal: true,
    };
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
      start = skipBlanks(bytes, start, end);
      end = dropTrailingBlanks(bytes, start, end);
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

    const date = this.columns.date;
    const year =
      date === undefined || date >= record.count
        ? UNKNOWN_YEAR
        : parseYearBytes(bytes, record.starts[date] as number, record.ends[date] as number);
    let road = this.lastRoad;
    if (road === NONE || !sameBytes(this.lastRoadBytes, bytes, start, end)) {
      const name = record.text(field).trim();
      if (name === "") return NO_ROAD;
      const known = this.ids.get(name);
      if (known === undefined && this.buckets >= this.maxRoadYears) return this.tooManyRoadYears;
      road = known ?? this.newRoad(name, year);
      this.lastRoad = road;
      this.lastRoadBytes = Buffer.from(bytes.subarray(start, end));
      this.useBucket(this.lastBucket[road] as number);
    }
    if (this.bucketYear !== year) {
      const found = this.bucketFor(road, year);
      if (found === NONE) return this.tooManyRoadYears;
      this.lastBucket[road] = found;
      this.useBucket(found);
    }
    const chunk = this.bucketChunk;
    const at = this.bucketAt;

    (chunk[at + ACCIDENTS] as number)++;
    (chunk[at + DEATHS] as number) += mortos;
    if (involved !== 0) {
      for (let v = 0; v < positions.length; v++) {
        if (involved & (1 << v)) (chunk[at + VEHICLE_0 + v] as number) += mortos;
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

  /** Distinct roads with at least one accepted row. */
  get roadCount(): number {
    return this.names.length;
  }

  /** Roads in name order, each with all five vehicles; built one at a time as they are read. */
  *roads(): Generator<RoadDeaths> {
    for (const road of this.sortedRoads()) yield this.roadFigures(road);
  }

  /** Each road's figures per year, in road order, then year, the unknown year last; built as they are read. */
  *roadYears(): Generator<RoadYearFigures> {
    for (const road of this.sortedRoads()) {
      const buckets: number[] = [];
      for (let bucket = this.firstBucket[road] as number; bucket !== NONE; bucket = this.cell(bucket, NEXT)) {
        buckets.push(bucket);
      }
      buckets.sort((a, b) => yearOrder(this.cell(a, YEAR)) - yearOrder(this.cell(b, YEAR)));
      const name = this.names[road] as string;
      for (const bucket of buckets) {
        const year = this.cell(bucket, YEAR);
        const byVehicle = zeroDeaths();
        this.addVehicles(byVehicle, bucket);
        yield {
          road: name,
          year: year === UNKNOWN_YEAR ? null : year,
          accidents: this.cell(bucket, ACCIDENTS),
          deaths: this.cell(bucket, DEATHS),
          byVehicle,
        };
      }
    }
  }

  /** The metric summed over every road: deaths in accidents involving each vehicle type. */
  deathsByVehicle(): VehicleDeaths {
    const sum = zeroDeaths();
    for (let bucket = 0; bucket < this.buckets; bucket++) this.addVehicles(sum, bucket);
    return sum;
  }

  /** The `limit` roads with the most deaths (each accident once), ties by name; without sorting every road. */
  worstRoads(limit: number): RoadDeaths[] {
    const worst: RoadDeaths[] = [];
    const ahead = (total: number, name: string, of: RoadDeaths) =>
      total > of.total || (total === of.total && name < of.road);
    for (let road = 0; road < this.names.length; road++) {
      const name = this.names[road] as string;
      const last = worst[limit - 1];
      // Most roads are not among the worst: their total alone says so, without building their figures.
      if (last !== undefined && !ahead(this.roadTotal(road), name, last)) continue;
      const figures = this.roadFigures(road);
      let at = worst.length;
      while (at > 0 && ahead(figures.total, name, worst[at - 1] as RoadDeaths)) at--;
      worst.splice(at, 0, figures);
      if (worst.length > limit) worst.pop();
    }
    return worst;
  }

  private newRoad(name: string, year: number): number {
    const road = this.names.length;
    if (road === this.firstBucket.length) {
      this.firstBucket = grown(this.firstBucket);
      this.lastBucket = grown(this.lastBucket);
    }
    this.names.push(name);
    this.ids.set(name, road);
    const bucket = this.newBucket(year);
    this.firstBucket[road] = bucket;
    this.lastBucket[road] = bucket;
    this.sorted = undefined;
    return road;
  }

  /** The road's bucket for the year, added at the end of its chain when new; NONE when no more may be added. */
  private bucketFor(road: number, year: number): number {
    let bucket = this.firstBucket[road] as number;
    for (;;) {
      if (this.cell(bucket, YEAR) === year) return bucket;
      const next = this.cell(bucket, NEXT);
      if (next === NONE) break;
      bucket = next;
    }
    if (this.buckets >= this.maxRoadYears) return NONE;
    const added = this.newBucket(year);
    this.setCell(bucket, NEXT, added);
    return added;
  }

  private useBucket(bucket: number): void {
    this.bucketChunk = this.chunks[bucket >>> CHUNK_SHIFT] as Float64Array;
    this.bucketAt = (bucket & CHUNK_MASK) * STRIDE;
    this.bucketYear = this.bucketChunk[this.bucketAt + YEAR] as number;
  }

  private newBucket(year: number): number {
    const bucket = this.buckets++;
    const index = bucket >>> CHUNK_SHIFT;
    if (index === this.chunks.length) this.chunks.push(new Float64Array(CHUNK_BUCKETS * STRIDE));
    this.setCell(bucket, YEAR, year);
    this.setCell(bucket, NEXT, NONE);
    return bucket;
  }

  private cell(bucket: number, slot: number): number {
    return (this.chunks[bucket >>> CHUNK_SHIFT] as Float64Array)[
      (bucket & CHUNK_MASK) * STRIDE + slot
    ] as number;
  }

  private setCell(bucket: number, slot: number, value: number): void {
    (this.chunks[bucket >>> CHUNK_SHIFT] as Float64Array)[(bucket & CHUNK_MASK) * STRIDE + slot] = value;
  }

  private addVehicles(into: VehicleDeaths, bucket: number): void {
    VEHICLES.forEach((vehicle, v) => {
      into[vehicle] += this.cell(bucket, VEHICLE_0 + v);
    });
  }

  private roadTotal(road: number): number {
    let total = 0;
    for (let bucket = this.firstBucket[road] as number; bucket !== NONE; bucket = this.cell(bucket, NEXT)) {
      total += this.cell(bucket, DEATHS);
    }
    return total;
  }

  private roadFigures(road: number): RoadDeaths {
    const deaths = zeroDeaths();
    let total = 0;
    for (let bucket = this.firstBucket[road] as number; bucket !== NONE; bucket = this.cell(bucket, NEXT)) {
      total += this.cell(bucket, DEATHS);
      this.addVehicles(deaths, bucket);
    }
    return { road: this.names[road] as string, byVehicle: deaths, total };
  }

  /** Road numbers in name order: sorted once, after the last row, and kept (4 bytes a road). */
  private sortedRoads(): Int32Array {
    if (this.sorted === undefined) {
      const names = this.names;
      this.sorted = Int32Array.from(names.keys()).sort((a, b) => {
        const x = names[a] as string;
        const y = names[b] as string;
        return x < y ? -1 : x > y ? 1 : 0;
      });
    }
    return this.sorted;
  }

  /** A missing cell (a short row) reads as 0, like an empty one. */
  private count(record: CsvRecord, field: number): number {
    if (field >= record.count) return 0;
    return parseCountBytes(record.buffer, record.starts[field] as number, record.ends[field] as number);
  }

  private rejectCount(record: CsvRecord, field: number, column: string, code: number): RowRejection {
    const { kind, reason } = describeCount(code, record.text(field));
    return { column, kind, reason };
  }
}

function grown(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

function yearOrder(year: number): number {
  return year === UNKNOWN_YEAR ? Number.MAX_SAFE_INTEGER : year;
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
