import type { CompiledQuery, Kysely } from "kysely";
import type { Database } from "../../db/schema.js";
import type { CliIo } from "../run.js";
import { type ReadOnlyOptions, runReadOnly } from "./database.js";
import { createRowFormatter, type Format, type FormatOptions } from "./format.js";

/**
 * Prints what a statement returns, a page at a time as the cursor yields it (results, runs, sql): memory stays
 * that of one page however many rows there are. Returns the number of rows.
 */
export async function printRows(
  db: Kysely<Database>,
  statement: string | CompiledQuery,
  io: CliIo,
  format: Format,
  options: FormatOptions & Partial<ReadOnlyOptions> = {},
): Promise<number> {
  const formatter = createRowFormatter(format, options);
  const count = await runReadOnly(db, statement, (rows) => io.stdout(formatter.page(rows)), {
    timeoutMs: options.timeoutMs ?? 0,
    ...(options.onStart ? { onStart: options.onStart } : {}),
  });
  await io.stdout(formatter.end());
  return count;
}
