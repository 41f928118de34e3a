import { PGlite, type PGliteOptions } from "@electric-sql/pglite";
import { Kysely } from "kysely";
import { PGliteDialect } from "kysely-pglite-dialect";
import { pgliteParsers } from "./int8.js";
import type { Database } from "./schema.js";

/**
 * Postgres sizes its buffer pool for a server (128 MB), and inside WebAssembly the whole pool ends up resident:
 * 147 MB of the instance's memory against 29 MB with 16 MB. The pipeline writes a few hundred rows per link, so
 * 16 MB is plenty. With it `npm start` peaks ~100 MB lower on a new data directory, ~140 MB on an existing one.
 */
const SHARED_BUFFERS = "shared_buffers=16MB";

const OPTIONS: PGliteOptions = {
  parsers: pgliteParsers,
  // `-c` wins over postgresql.conf, so data directories made with the old 128MB setting shrink too.
  startParams: [...PGlite.defaultStartParams, "-c", SHARED_BUFFERS],
  // A new database runs initdb in a second instance (freed only by a later GC): bootstrap it with the same pool,
  // which initdb also writes into postgresql.conf. 1 MB WAL segments instead of 16 MB shrink the new data
  // directory, and the in-memory copy initdb hands over, by 11 MB.
  initDbStartParams: ["-c", SHARED_BUFFERS, "--wal-segsize=1"],
};

/**
 * Embedded Postgres (PGlite, WebAssembly) for laptops and tests: same SQL, same migrations, no server. Kept out
 * of database.ts so the Lambda bundles never pull in the WebAssembly build.
 * `dataDir` persists the database; without it the database lives in memory.
 */
export async function createEmbeddedDatabase(
  dataDir?: string,
): Promise<{ db: Kysely<Database>; pglite: PGlite }> {
  const pglite = dataDir ? new PGlite(dataDir, OPTIONS) : new PGlite(OPTIONS);
  await pglite.waitReady;
  return { db: new Kysely<Database>({ dialect: new PGliteDialect(pglite) }), pglite };
}
