import { existsSync } from "node:fs";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite, type PGliteOptions } from "@electric-sql/pglite";
import { Kysely, PGliteDialect } from "kysely";
import { pgliteParsers } from "./int8.js";
import type { Database } from "./schema.js";
import { dataDirState, finishUpgrade, upgradeDataDir } from "./upgrade-data-dir.js";

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
  options: { template?: string; snapshot?: Uint8Array; log?: (line: string) => void } = {},
): Promise<{ db: Kysely<Database>; pglite: PGlite }> {
  const pglite = dataDir
    ? await openDataDir(dataDir, options.template ?? TEMPLATE, options.log)
    : new PGlite({
        ...OPTIONS,
        // In memory, from another process's dump (local/snapshot-server.ts): changes to it go nowhere.
        ...(options.snapshot ? { loadDataDir: new Blob([options.snapshot]) } : {}),
      });
  await pglite.waitReady;
  return { db: new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) }), pglite };
}

/**
 * A new, empty data directory made by initdb once, at install (scripts/build-cli.mjs writes it): a new data
 * directory is this unpacked (about 1 s) rather than initdb run again (about 3 s, and a second 128 MB instance).
 * Resolved from this module's place, in src/db/ and build/db/ alike.
 */
export const TEMPLATE = fileURLToPath(new URL("../../build/pglite-template.tar.gz", import.meta.url));

/**
 * A data directory an older PGlite wrote (PostgreSQL 17) is upgraded first, once (upgrade-data-dir.ts); read
 * commands check dataDirState before they get here, since they change nothing.
 */
async function openDataDir(dataDir: string, template: string, log?: (line: string) => void): Promise<PGlite> {
  const state = await dataDirState(dataDir);
  if (state === "older") await upgradeDataDir(dataDir, (dir) => openOrCreate(dir, template), log);
  else if (state === "upgraded") await finishUpgrade(dataDir);
  return openOrCreate(dataDir, template);
}

async function openOrCreate(dataDir: string, template: string): Promise<PGlite> {
  const fresh =
    !existsSync(join(dataDir, "PG_VERSION")) && (await readdir(dataDir).catch(() => [])).length === 0;
  if (!fresh || !existsSync(template)) return new PGlite(dataDir, OPTIONS);
  const pglite = new PGlite(dataDir, { ...OPTIONS, loadDataDir: new Blob([await readFile(template)]) });
  try {
    await pglite.waitReady;
    return pglite;
  } catch {
    // A template this PGlite cannot read (another version's): initdb, as without one.
    await pglite.close().catch(() => {});
    for (const entry of await readdir(dataDir))
      await rm(join(dataDir, entry), { recursive: true, force: true });
    return new PGlite(dataDir, OPTIONS);
  }
}

/** Writes the template: an initdb'd, empty data directory, dumped (scripts/build-cli.mjs calls it). */
export async function writeTemplate(path: string): Promise<void> {
  const pglite = new PGlite(OPTIONS);
  await pglite.waitReady;
  const dump = await pglite.dumpDataDir("gzip");
  await pglite.close();
  await writeFile(path, Buffer.from(await dump.arrayBuffer()));
}
