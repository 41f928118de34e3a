import { once } from "node:events";
import { type Readable, Writable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { RoadtollError } from "../errors.js";
import { ROAD_NAME_COLUMN, SOURCE_LINE_COLUMN } from "./columns.js";
import { parseCountBytes } from "./count.js";
import { CLEAN_DELIMITER, formatCsvRow, joinFields } from "./csv-format.js";
import { CsvReader, type CsvRecord, type SourceDelimiter } from "./csv-reader.js";
import {
  DeathsAggregator,
  type DeathsLimits,
  metricColumnsFrom,
  type RoadDeaths,
  type RoadYearFigures,
  type VehicleDeaths,
} from "./deaths-aggregator.js";
import { parseHeader } from "./header.js";
import { REJECTS_HEADER, type RejectKind, type RejectKindCount, RejectTally } from "./rejects.js";

export interface ComputeDeathsOptions {
  /** The clean CSV written by the ingest step. */
  input: Readable;
  /** Name used in error messages and rejects, usually the clean object's key. */
  file: string;
  /** Receives the rejects CSV (REJECTS_HEADER); ended when the input is done. */
  rejects: Writable;
  /** The source's delimiter (the ingest step reports it), so a reject shows the row as the source had it. */
  sourceDelimiter?: SourceDelimiter | undefined;
  limits?: DeathsLimits | undefined;
}

export interface DeathsComputation {
  /**
   * Each road's figures, in name order, built one road at a time whenever it is iterated (and it can be, again):
   * a file of millions of roads is never held as a list of objects.
   */
  roads: Iterable<RoadDeaths>;
  /** Accepted rows and their deaths per road and year (the `data` column), for rates and trends; as `roads`. */
  roadYears: Iterable<RoadYearFigures>;
  /** Distinct roads with at least one accepted row. */
  roadCount: number;
  /** The metric summed over roads: deaths in accidents involving each vehicle type. */
  deathsByVehicle: VehicleDeaths;
  /** The roads with the most deaths (each accident once), most first, ties by name. */
  worstRoads: RoadDeaths[];
  rowsRead: number;
  rowsAccepted: number;
  rowsRejected: number;
  /** Deaths in accepted rows, counted once per accident. */
  totalDeaths: number;
  /** Up to this many rejects are echoed in the result so a person sees why without opening the object. */
  sampleRejects: Reject[];
  /** Why rows were rejected: each (column, kind) with its count, most common first. */
  rejectKinds: RejectKindCount[];
}

export interface Reject {
  /** Line in the source file (the line the ingest step recorded), or in the clean file if that is unreadable. */
  line: number;
  column: string | undefined;
  reason: string;
}

const SAMPLE_REJECTS = 5;
const WORST_ROADS = 5;

/**
 * Streams a clean file through the metric. A row that cannot be read never stops the run and is never dropped
 * silently: it goes to `rejects` with its source line and the reason, and is counted. Only a file that is not a
 * clean file at all (no header, broken CSV quoting) fails the computation.
 *
 * The clean file is read with the byte-level CsvReader: only the columns the metric needs are parsed, numbers
 * straight from bytes, and nothing is allocated for an accepted row.
 */
export async function computeDeaths(options: ComputeDeathsOptions): Promise<DeathsComputation> {
  const { file, rejects } = options;
  let aggregator: DeathsAggregator | undefined;
  let width = 0;
  let rowsRead = 0;
  let rowsRejected = 0;
  let mustDrain = false;
  const sampleRejects: Reject[] = [];
  const tally = new RejectTally();

  const reject = (record: CsvRecord, column: string, kind: RejectKind, reason: string) => {
    rowsRejected++;
    tally.add(column, kind);
    const count = record.count;
    const line = sourceLine(record);
    if (sampleRejects.length < SAMPLE_REJECTS)
      sampleRejects.push({ line, column: column || undefined, reason });
    // The row as the source had it: its fields (not the two appended ones) joined by its delimiter.
    const fields = record.texts().slice(0, count >= 3 ? count - 2 : count);
    const row = joinFields(fields, options.sourceDelimiter ?? ",");
    if (!rejects.write(formatCsvRow([String(line), column, kind, reason, row]))) mustDrain = true;
  };

  const reader = new CsvReader({
    file,
    delimiter: CLEAN_DELIMITER,
    onRecord(record) {
      if (!aggregator) {
        const header = parseHeader(record.texts(), file);
        for (const required of [SOURCE_LINE_COLUMN, ROAD_NAME_COLUMN]) {
          if (!header.index.has(required)) {
            throw new RoadtollError(
              "HeaderError",
              `missing column ${required}: not a file written by the ingest step`,
              { where: { resource: file, line: 1, column: required } },
            );
          }
        }
        aggregator = new DeathsAggregator(metricColumnsFrom(header.index, ROAD_NAME_COLUMN), options.limits);
        width = header.columns.length;
        return;
      }
      rowsRead++;
      if (record.count !== width) {
        reject(
          record,
          "",
          "wrong number of fields",
          `expected ${width - 2} fields, found ${record.count - 2}`,
        );
        return;
      }
      const rejection = aggregator.add(record);
      if (rejection?.fatal) {
        throw new RoadtollError("TooManyRoadsError", rejection.reason, {
          where: { resource: file, line: sourceLine(record), column: rejection.column },
        });
      }
      if (rejection) reject(record, rejection.column, rejection.kind, rejection.reason);
    },
  });

  // Records are handled synchronously inside each chunk; only a full rejects stream makes the input wait.
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      try {
        reader.push(chunk);
      } catch (error) {
        callback(error as Error);
        return;
      }
      if (!mustDrain) return callback();
      mustDrain = false;
      once(rejects, "drain").then(() => callback(), callback);
    },
    final(callback) {
      try {
        reader.end();
      } catch (error) {
        callback(error as Error);
        return;
      }
      callback();
    },
  });

  try {
    rejects.write(formatCsvRow(REJECTS_HEADER));
    await pipeline(options.input, sink);
  } catch (error) {
    rejects.destroy();
    throw error;
  }
  if (!aggregator) {
    rejects.destroy();
    throw new RoadtollError("HeaderError", "the file is empty: no header row", {
      where: { resource: file, line: 1 },
    });
  }
  rejects.end();
  await finished(rejects);
  const figures = aggregator;
  return {
    roads: { [Symbol.iterator]: () => figures.roads() },
    roadYears: { [Symbol.iterator]: () => figures.roadYears() },
    roadCount: figures.roadCount,
    deathsByVehicle: figures.deathsByVehicle(),
    worstRoads: figures.worstRoads(WORST_ROADS),
    rowsRead,
    rowsAccepted: aggregator.rowsAccepted,
    rowsRejected,
    totalDeaths: aggregator.totalDeaths,
    sampleRejects,
    rejectKinds: tally.sorted(),
  };
}

/** The line in the source file the ingest step recorded (the second-to-last field), else the clean file's. */
function sourceLine(record: CsvRecord): number {
  const count = record.count;
  // The last two fields are the ones ingest appended, whatever the row's own width.
  const line =
    count >= 3
      ? parseCountBytes(record.buffer, record.starts[count - 2] as number, record.ends[count - 2] as number)
      : 0;
  return line > 0 ? line : record.line;
}
