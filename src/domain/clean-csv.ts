import { createHash } from "node:crypto";
import { type Readable, Transform, type TransformCallback, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parse } from "csv-parse";
import { RoadtollError } from "../errors.js";
import { ROAD_NAME_COLUMN, SOURCE_LINE_COLUMN } from "./columns.js";
import { formatCsvRow } from "./csv-format.js";
import { type SourceEncoding, Transcoder } from "./encoding.js";
import { type Header, parseHeader } from "./header.js";
import { canonicalRoadName } from "./road-name.js";

export interface CleanCsvResult {
  /** Encoding the source was detected in. */
  encoding: SourceEncoding;
  /** Size and SHA-256 of the bytes exactly as downloaded. */
  bytes: number;
  sha256: string;
  /** Data rows written to the clean file (the header and blank lines are not rows). */
  rows: number;
  /** Size of the clean file. */
  cleanBytes: number;
  columns: string[];
}

export interface CleanCsvOptions {
  /** The source bytes, streamed. */
  input: Readable;
  /** Name used in error messages, usually the source file name. */
  file: string;
  /** Receives the source bytes unchanged (the raw copy). Optional. */
  raw?: Writable;
  /** Receives the clean CSV. */
  output: Writable;
}

/** Flush the clean text in blocks this big: one push per row would cost more than the parsing. */
const OUTPUT_BLOCK = 64 * 1024;

/**
 * Turns an ANTT source file into the clean file the deaths step reads: UTF-8, comma-separated RFC 4180, the
 * header normalised to snake_case, and two columns appended to every row: `source_line` (the row's line in the
 * source, so a reject can point at it) and `road_name` (the canonical road, see road-name.ts). Rows are passed
 * through even when malformed: judging a row is the deaths step's job, and it needs to see every row to report
 * it. Everything streams; memory stays flat whatever the file size.
 */
export async function cleanCsv(options: CleanCsvOptions): Promise<CleanCsvResult> {
  const { file } = options;
  const hash = createHash("sha256");
  let bytes = 0;
  let cleanBytes = 0;
  let rows = 0;
  let header: Header | undefined;
  const transcoder = new Transcoder(file);

  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      hash.update(chunk);
      if (!options.raw || options.raw.write(chunk)) return callback(null, chunk);
      options.raw.once("drain", () => callback(null, chunk));
    },
    flush(callback) {
      if (!options.raw) return callback();
      options.raw.end(callback);
    },
  });

  const decode = new Transform({
    decodeStrings: true,
    transform(chunk: Buffer, _encoding, callback) {
      settle(callback, () => transcoder.push(chunk));
    },
    flush(callback) {
      settle(callback, () => transcoder.end());
    },
  });

  const parser = parse({
    delimiter: ";",
    // The source never quotes, yet some fields contain double quotes (`"submarino"`); quoting must be off.
    quote: false,
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
  });

  let block = "";
  const format = new Transform({
    writableObjectMode: true,
    transform(entry: { record: string[]; info: { lines: number } }, _encoding, callback: TransformCallback) {
      const { record, info } = entry;
      if (!header) {
        try {
          header = parseHeader(record, file);
        } catch (error) {
          return callback(error as Error);
        }
        block += formatCsvRow([...header.columns, SOURCE_LINE_COLUMN, ROAD_NAME_COLUMN]);
      } else {
        rows++;
        const trecho = record[header.index.get("trecho") ?? -1] ?? "";
        record.push(String(info.lines), canonicalRoadName(trecho));
        block += formatCsvRow(record);
      }
      if (block.length >= OUTPUT_BLOCK) {
        const out = block;
        block = "";
        cleanBytes += Buffer.byteLength(out);
        return callback(null, out);
      }
      callback();
    },
    flush(callback) {
      if (!header) {
        return callback(
          new RoadtollError("HeaderError", "the file is empty: no header row", { where: { file, line: 1 } }),
        );
      }
      cleanBytes += Buffer.byteLength(block);
      callback(null, block);
    },
  });

  await pipeline(options.input, tap, decode, parser, format, options.output);
  return {
    encoding: transcoder.detected,
    bytes,
    sha256: hash.digest("hex"),
    rows,
    cleanBytes,
    columns: header?.columns ?? [],
  };
}

function settle(callback: TransformCallback, produce: () => string): void {
  let text: string;
  try {
    text = produce();
  } catch (error) {
    callback(error as Error);
    return;
  }
  callback(null, text.length > 0 ? text : undefined);
}
