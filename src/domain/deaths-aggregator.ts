import { VEHICLES, type Vehicle } from "./columns.js";
import { parseCount } from "./count.js";

export type VehicleDeaths = Record<Vehicle, number>;

export interface RoadDeaths {
  road: string;
  /** Deaths per vehicle type involved (the metric). */
  deaths: VehicleDeaths;
  /** Deaths on the road, each accident counted once whatever vehicles it involved. */
  total: number;
}

/** Where each column the metric reads sits in a row. */
export interface MetricColumns {
  roadName: number;
  mortos: number;
  vehicles: ReadonlyArray<readonly [Vehicle, number]>;
}

export interface RowRejection {
  column: string | undefined;
  reason: string;
}

export function zeroDeaths(): VehicleDeaths {
  return { automovel: 0, bicicleta: 0, caminhao: 0, moto: 0, onibus: 0 };
}

/**
 * The metric: for each road and vehicle type, the sum of `mortos` over the accidents in which at least one
 * vehicle of that type was involved (its count is > 0). An accident with several of the five types counts its
 * deaths once for each of them, so the per-vehicle figures do not add up to the road's total deaths, by design.
 * Every road that has at least one valid row gets all five vehicles, zeros included.
 */
export class DeathsAggregator {
  private readonly roads = new Map<string, { deaths: VehicleDeaths; total: number }>();
  private accepted = 0;
  private deathsInAcceptedRows = 0;

  constructor(private readonly columns: MetricColumns) {}

  /** Adds a row, or says why it cannot be counted; a rejected row changes nothing. */
  add(fields: readonly string[]): RowRejection | undefined {
    const road = (fields[this.columns.roadName] ?? "").trim();
    if (road === "") return { column: "trecho", reason: "no road name" };
    const mortos = parseCount(fields[this.columns.mortos]);
    if (!mortos.ok) return { column: "mortos", reason: mortos.reason };

    // Validate every vehicle before touching the totals, so a bad row never half-counts.
    let involved = 0;
    for (let i = 0; i < this.columns.vehicles.length; i++) {
      const [vehicle, position] = this.columns.vehicles[i] as readonly [Vehicle, number];
      const count = parseCount(fields[position]);
      if (!count.ok) return { column: vehicle, reason: count.reason };
      if (count.value > 0) involved |= 1 << i;
    }

    let totals = this.roads.get(road);
    if (!totals) {
      totals = { deaths: zeroDeaths(), total: 0 };
      this.roads.set(road, totals);
    }
    totals.total += mortos.value;
    for (let i = 0; i < this.columns.vehicles.length; i++) {
      if (involved & (1 << i)) {
        totals.deaths[(this.columns.vehicles[i] as readonly [Vehicle, number])[0]] += mortos.value;
      }
    }
    this.accepted++;
    this.deathsInAcceptedRows += mortos.value;
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
    return [...this.roads.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([road, { deaths, total }]) => ({ road, deaths: { ...deaths }, total }));
  }
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
    vehicles: VEHICLES.map((vehicle) => [vehicle, at(vehicle)] as const),
  };
}
