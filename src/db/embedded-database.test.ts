import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { createEmbeddedDatabase, writeTemplate } from "./embedded-database.js";

const dirs: string[] = [];
const temporary = async () => {
  const dir = await mkdtemp(join(tmpdir(), "roadtoll-pglite-"));
  dirs.push(dir);
  return dir;
};
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Opens the data directory, writes a row, closes it, opens it again and reads the row back. */
async function roundTrip(dataDir: string, template: string): Promise<number> {
  const first = await createEmbeddedDatabase(dataDir, { template });
  await sql`create table t (n int)`.execute(first.db);
  await sql`insert into t values (42)`.execute(first.db);
  await first.db.destroy();
  const again = await createEmbeddedDatabase(dataDir, { template });
  try {
    const { rows } = await sql<{ n: number }>`select n from t`.execute(again.db);
    return rows[0]?.n ?? Number.NaN;
  } finally {
    await again.db.destroy();
  }
}

describe("createEmbeddedDatabase", () => {
  it("makes a new data directory from the install's template, a working Postgres that keeps its rows", async () => {
    const dir = await temporary();
    const template = join(dir, "template.tar.gz");
    await writeTemplate(template);
    expect(existsSync(template)).toBe(true);
    const dataDir = join(dir, "data");
    expect(await roundTrip(dataDir, template)).toBe(42);
    expect(existsSync(join(dataDir, "PG_VERSION"))).toBe(true);
  }, 60_000);

  it("runs initdb when there is no template, or one it cannot read", async () => {
    const dir = await temporary();
    expect(await roundTrip(join(dir, "none"), join(dir, "missing.tar.gz"))).toBe(42);
    const broken = join(dir, "broken.tar.gz");
    await writeFile(broken, "not a tarball");
    expect(await roundTrip(join(dir, "broken"), broken)).toBe(42);
  }, 120_000);
});
