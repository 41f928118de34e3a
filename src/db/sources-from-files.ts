import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.js";

/**
 * The sources whose current figures were computed from one of these files (by the SHA-256 of the bytes read,
 * as pipeline_runs records it): what the CLI leaves out as the bundled samples, however they were run or named.
 * Judged on the snapshot in deaths_by_vehicle now, so a source whose real file replaced a sample is not one.
 */
export async function sourcesFromFiles(db: Kysely<Database>, sha256: readonly string[]): Promise<string[]> {
  if (sha256.length === 0) return [];
  const result = await sql<{ source: string }>`
    select distinct r.source from pipeline_runs r
    where r.status = 'succeeded' and r.sha256 in (${sql.join(sha256)})
      and exists (select 1 from deaths_by_vehicle d where d.source = r.source and d.created_at = r.ingested_at)
    order by r.source`.execute(db);
  return result.rows.map((row) => row.source);
}
