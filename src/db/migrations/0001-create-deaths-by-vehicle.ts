import { type Kysely, sql } from "kysely";

// Migrations are frozen history: they take `Kysely<unknown>` so later schema changes cannot alter what they do.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("deaths_by_vehicle")
    .addColumn("created_at", "timestamptz", (column) => column.notNull())
    .addColumn("source", "text", (column) => column.notNull().check(sql`source <> ''`))
    .addColumn("road_name", "text", (column) => column.notNull().check(sql`road_name <> ''`))
    .addColumn("vehicle", "text", (column) =>
      column.notNull().check(sql`vehicle in ('automovel', 'bicicleta', 'caminhao', 'moto', 'onibus')`),
    )
    .addColumn("number_deaths", "integer", (column) => column.notNull().check(sql`number_deaths >= 0`))
    // One row per snapshot, road and vehicle: a retried step cannot add a second one.
    .addPrimaryKeyConstraint("deaths_by_vehicle_pkey", ["source", "created_at", "road_name", "vehicle"])
    .execute();
  await db.schema
    .createIndex("deaths_by_vehicle_road_name_idx")
    .on("deaths_by_vehicle")
    .columns(["road_name", "vehicle"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("deaths_by_vehicle").execute();
}
