import { once } from "node:events";
import { type Readable, Writable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { CsvError, parse } from "csv-parse";
import { RoadtollError } from "../errors.js";
import { ROAD_NAME_COLUMN, SOURCE_LINE_COLUMN } from "./columns.js";
import { formatCsvRow } from "./csv-format.js";
import { DeathsAggregator, metricColumnsFrom, type RoadDeaths } from "./deaths-aggregator.js";
import { parseHeader } from "./header.js";

export interface ComputeDeathsOptions {
  /** The clean CSV written by the ingest step. */
  input: Readable;
  /** Name used in error messages and rejects, usually the clean object's key. */
  file: string;
  /** Receives the rejects CSV (`line,column,reason,row`); ended when the input is done. */
  rejects: Writable;
}

export interface DeathsComputation {
  roads: RoadDeaths[];
  rowsRead: number;
  rowsAccepted: number;
  rowsRejected: number;
  /** Deaths in accepted rows, counted once per accident. */
  totalDeaths: number;
  /** Up to this many rejects are echoed in the result so a person sees why without opening the object. */
  sampleRejects: Reject[];
}

export interface Reject {
  /** Line in the source file (the line the ingest step recorded), or in the clean file if that is unreadable. */
  line: number;
  column: string | undefined;
  reason: string;
}

const SAMPLE_REJECTS = 5;
export const REJECTS_HEADER = ["line", "column", "reason", "row"] as const;

/**
 * Streams a clean file through the metric. A row that cannot be read never stops the run and is never dropped
 * silently: it goes to `rejects` with its source line and the reason, and is counted. Only a file that is not a
 * clean file at all (no header, broken CSV quoting) fails the computation.
 */
export async function computeDeaths(options: ComputeDeathsOptions): Promise<DeathsComputation> {
  const { file, rejects } = options;
  let aggregator: DeathsAggregator | undefined;
  let width = 0;
  let rowsRead = 0;
  let rowsRejected = 0;
  const sampleRejects: Reject[] = [];

  /** Writes one reject; returns a promise only when the rejects stream asks us to wait. */
  const reject = (fields: string[], cleanLine: number, reason: string, column?: string) => {
    rowsRejected++;
    const sourceLine = Number(fields.at(-2));
    const line = Number.isSafeInteger(sourceLine) && sourceLine > 0 ? sourceLine : cleanLine;
    if (sampleRejects.length < SAMPLE_REJECTS) sampleRejects.push({ line, column, reason });
    // The two appended columns are ours, not the source's: the reject shows the row as the source had it.
    const original = fields.slice(0, -2).join(";");
    if (rejects.write(formatCsvRow([String(line), column ?? "", reason, original]))) return undefined;
    return once(rejects, "drain");
  };

  const consume = (record: string[], cleanLine: number): Promise<unknown> | undefined => {
    if (!aggregator) {
      const header = parseHeader(record, file);
      for (const required of [SOURCE_LINE_COLUMN, ROAD_NAME_COLUMN]) {
        if (!header.index.has(required)) {
          throw new RoadtollError(
            "HeaderError",
            `missing column ${required}: not a file written by the ingest step`,
            {
              where: { file, line: 1, column: required },
            },
          );
        }
      }
      aggregator = new DeathsAggregator(metricColumnsFrom(header.index, ROAD_NAME_COLUMN));
      width = header.columns.length;
      return undefined;
    }
    rowsRead++;
    if (record.length !== width) {
      return reject(record, cleanLine, `expected ${width - 2} fields, found ${record.length - 2}`);
    }
    const rejection = aggregator.add(record);
    return rejection ? reject(record, cleanLine, rejection.reason, rejection.column) : undefined;
  };

  // A Writable rather than `for await`: rows are handled synchronously, and only a full rejects stream
  // makes the pipeline wait, which keeps backpressure without a promise per row.
  const sink = new Writable({
    objectMode: true,
    highWaterMark: 256,
    write(entry: { record: string[]; info: { lines: number } }, _encoding, callback) {
      let pending: Promise<unknown> | undefined;
      try {
        pending = consume(entry.record, entry.info.lines);
      } catch (error) {
        callback(error as Error);
        return;
      }
      if (pending) pending.then(() => callback(), callback);
      else callback();
    },
  });

  try {
    rejects.write(formatCsvRow(REJECTS_HEADER));
    await pipeline(
      options.input,
      parse({ relax_column_count: true, skip_empty_lines: true, info: true }),
      sink,
    );
  } catch (error) {
    rejects.destroy();
    if (error instanceof RoadtollError) throw error;
    if (error instanceof CsvError) {
      throw new RoadtollError("CsvFormatError", error.message, {
        cause: error,
        where: { file, line: Number((error as CsvError & { lines?: number }).lines) || undefined },
      });
    }
    throw error;
  }
  if (!aggregator) {
    rejects.destroy();
    throw new RoadtollError("HeaderError", "the file is empty: no header row", { where: { file, line: 1 } });
  }
  rejects.end();
  await finished(rejects);
  return {
    roads: aggregator.result(),
    rowsRead,
    rowsAccepted: aggregator.rowsAccepted,
    rowsRejected,
    totalDeaths: aggregator.totalDeaths,
    sampleRejects,
  };
}
