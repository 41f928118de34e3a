import { createHash } from "node:crypto";
import { type Readable, Transform, type TransformCallback, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
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

/** Distinct `trecho` spellings remembered per file; the real files have fewer than 50. */
const ROAD_NAME_CACHE_LIMIT = 10_000;

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

  const rows = new RowRewriter(file);
  /** Runs one step of the rewrite, counting what it produces; a thrown error fails the pipeline. */
  const settle = (callback: TransformCallback, produce: () => string): void => {
    let text: string;
    try {
      text = produce();
    } catch (error) {
      callback(error as Error);
      return;
    }
    cleanBytes += Buffer.byteLength(text);
    callback(null, text.length > 0 ? text : undefined);
  };
  const clean = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      settle(callback, () => rows.push(transcoder.push(chunk)));
    },
    flush(callback) {
      settle(callback, () => rows.push(transcoder.end()) + rows.end());
    },
  });

  await pipeline(options.input, tap, clean, options.output);
  return {
    encoding: transcoder.detected,
    bytes,
    sha256: hash.digest("hex"),
    rows: rows.rows,
    cleanBytes,
    columns: rows.columns,
  };
}

/**
 * Splits decoded text into lines and rewrites each as a clean CSV row. The source format has no quoting at all
 * (a double quote is an ordinary character there), so a record is exactly one line split on `;`: a plain split
 * is both correct and about twice as fast as a general CSV parser. Lines end in `\n` or `\r\n`; empty lines
 * are skipped but still counted, so `source_line` is the line number an editor shows.
 */
class RowRewriter {
  private header: Header | undefined;
  private trecho = -1;
  private rest = "";
  private line = 0;
  private readonly roadNames = new Map<string, string>();
  rows = 0;

  constructor(private readonly file: string) {}

  get columns(): string[] {
    return this.header?.columns ?? [];
  }

  push(text: string): string {
    const all = this.rest + text;
    let out = "";
    let start = 0;
    let newline = all.indexOf("\n");
    while (newline !== -1) {
      out += this.rewrite(all, start, newline);
      start = newline + 1;
      newline = all.indexOf("\n", start);
    }
    this.rest = all.slice(start);
    return out;
  }

  end(): string {
    const out = this.rest === "" ? "" : this.rewrite(this.rest, 0, this.rest.length);
    this.rest = "";
    if (!this.header) {
      throw new RoadtollError("HeaderError", "the file is empty: no header row", {
        where: { file: this.file, line: 1 },
      });
    }
    return out;
  }

  private rewrite(text: string, start: number, stop: number): string {
    this.line++;
    const end = stop > start && text.charCodeAt(stop - 1) === 13 ? stop - 1 : stop;
    if (end === start) return "";
    const record = text.slice(start, end).split(";");
    if (!this.header) {
      this.header = parseHeader(record, this.file);
      this.trecho = this.header.index.get("trecho") ?? -1;
      return formatCsvRow([...this.header.columns, SOURCE_LINE_COLUMN, ROAD_NAME_COLUMN]);
    }
    this.rows++;
    record.push(String(this.line), this.roadName(record[this.trecho] ?? ""));
    return formatCsvRow(record);
  }

  private roadName(trecho: string): string {
    let name = this.roadNames.get(trecho);
    if (name === undefined) {
      name = canonicalRoadName(trecho);
      if (this.roadNames.size < ROAD_NAME_CACHE_LIMIT) this.roadNames.set(trecho, name);
    }
    return name;
  }
}
