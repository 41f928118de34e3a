import pg from "pg";

/** Postgres' type OID for bigint (int8). */
export const INT8_OID = 20;

/**
 * Reads a bigint as a number when it is one exactly (every figure roadtoll writes is: the aggregator keeps a
 * file's totals within 2^53 − 1), and as its text otherwise, so a larger value in a person's `sql` query is shown
 * whole rather than rounded. pg would return every bigint as text, PGlite a number or a BigInt: this makes the
 * two drivers agree.
 */
export function parseInt8(text: string): number | string {
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : text;
}

/** For pg's `types` option: bigint through parseInt8, every other type as pg reads it. */
export const pgTypes = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary"
      ? parseInt8
      : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
};

/** For PGlite's `parsers` option. */
export const pgliteParsers = { [INT8_OID]: parseInt8 };
