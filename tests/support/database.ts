import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import pg from "pg";
import { createDatabase } from "../../src/db/database.js";
import { createEmbeddedDatabase } from "../../src/db/embedded-database.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import type { Database } from "../../src/db/schema.js";

export interface TestDatabase {
  db: Kysely<Database>;
  /** "pglite" or "postgres": tests name the backend they ran on. */
  kind: "pglite" | "postgres";
  /** A URL the `pg` driver can use (the real server's test database), when there is one. */
  url: string | undefined;
  close(): Promise<void>;
}

/**
 * A fresh, migrated database per test file: PGlite in memory by default, or, when DATABASE_URL is set, a new
 * database on that server (dropped afterwards), so test files can run in parallel without seeing each other.
 */
export async function openTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  let result: TestDatabase;
  if (!adminUrl) {
    const { db } = await createEmbeddedDatabase();
    result = { db, kind: "pglite", url: undefined, close: () => db.destroy() };
  } else {
    const name = `roadtoll_test_${randomBytes(6).toString("hex")}`;
    await admin(adminUrl, `create database ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const db = await createDatabase({ kind: "url", url: url.toString() });
    result = {
      db,
      kind: "postgres",
      url: url.toString(),
      close: async () => {
        await db.destroy();
        await admin(adminUrl, `drop database if exists ${name} with (force)`);
      },
    };
  }
  if (options.migrate !== false) await migrateToLatest(result.db);
  return result;
}

async function admin(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A source's current figures per vehicle, summed over its roads: what the metric says for the whole file. */
export async function currentFigures(db: Kysely<Database>, source: string): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom("deaths_by_vehicle")
    .select(["vehicle", (eb) => eb.fn.sum<string>("number_deaths").as("deaths")])
    .where("source", "=", source)
    .groupBy("vehicle")
    .execute();
  return Object.fromEntries(rows.map((row) => [row.vehicle, Number(row.deaths)]));
}

/** A source's current rows, every column, in a stable order. */
export function currentRows(db: Kysely<Database>, source: string) {
  return db
    .selectFrom("deaths_by_vehicle")
    .selectAll()
    .where("source", "=", source)
    .orderBy("road_name")
    .orderBy("vehicle")
    .execute();
}
