import { PGlite } from "@electric-sql/pglite";
import { Kysely } from "kysely";
import { PGliteDialect } from "kysely-pglite-dialect";
import type { Database } from "./schema.js";

/**
 * Embedded Postgres (PGlite, WebAssembly) for laptops and tests: same SQL, same migrations, no server. Kept out
 * of database.ts so the Lambda bundles never pull in the WebAssembly build.
 * `dataDir` persists the database; without it the database lives in memory.
 */
export async function createEmbeddedDatabase(
  dataDir?: string,
): Promise<{ db: Kysely<Database>; pglite: PGlite }> {
  const pglite = dataDir ? new PGlite(dataDir) : new PGlite();
  await pglite.waitReady;
  return { db: new Kysely<Database>({ dialect: new PGliteDialect(pglite) }), pglite };
}
