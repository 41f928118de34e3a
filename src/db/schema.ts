import type { Insertable, Selectable } from "kysely";
import type { Vehicle } from "../domain/columns.js";

export interface DeathsByVehicleTable {
  /** When the data was captured: the ingest step's `ingestedAt`, so a retried deaths step writes the same rows. */
  created_at: Date;
  /** The link's name (link.yml key, or derived from the URL): one road can be run by several concessionaires. */
  source: string;
  road_name: string;
  vehicle: Vehicle;
  number_deaths: number;
}

export interface Database {
  deaths_by_vehicle: DeathsByVehicleTable;
}

export type DeathsRow = Selectable<DeathsByVehicleTable>;
export type NewDeathsRow = Insertable<DeathsByVehicleTable>;
