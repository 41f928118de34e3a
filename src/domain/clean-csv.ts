import { createHash } from "node:crypto";
import { type Readable, Transform, type TransformCallback, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { RoadtollError } from "../errors.js";
import { COMMA, LF, QUOTE, sameBytes, ZERO } from "./bytes.js";
import { ROAD_NAME_COLUMN, SOURCE_LINE_COLUMN } from "./columns.js";
import { encodeCsvField, formatCsvRow } from "./csv-format.js";
import {
  CsvReader,
  type CsvRecord,
  ESCAPED,
  NEEDS_QUOTES,
  QUOTED,
  type SourceDelimiter,
} from "./csv-reader.js";
import { type SourceEncoding, Transcoder } from "./encoding.js";
import { type Header, normaliseColumnName, parseHeader } from "./header.js";
import { PlainRowKernel } from "./plain-line-kernel.js";
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
  /** The source's delimiter, detected from its header line. */
  delimiter: SourceDelimiter;
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
  /**
   * Called with the source's SHA-256 once the input has ended, before either copy ends: throwing fails the
   * cleaning with that error, so that neither copy is completed (a re-run that finds its source unchanged).
   */
  onDigest?: (sha256: string) => void;
}

/** Distinct `trecho` spellings remembered per file; the real files have fewer than 50. */
const ROAD_NAME_CACHE_LIMIT = 10_000;

/**
 * Turns a source file into the clean file the deaths step reads: UTF-8, comma-separated RFC 4180, the header
 * normalised to snake_case, and two columns appended to every row: `source_line` (the line the row starts on in
 * the source, so a reject can point at it) and `road_name` (the canonical road, see road-name.ts). The source
 * may be `;`-, `,`- or tab-separated (detected from the header), quoted or not. Rows are passed through even
 * when malformed: judging a row is the deaths step's job, and it needs to see every row to report it.
 * Everything streams on bytes; memory stays flat whatever the file size.
 */
export async function cleanCsv(options: CleanCsvOptions): Promise<CleanCsvResult> {
  const { file } = options;
  const hash = createHash("sha256");
  let sha256 = "";
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
      sha256 = hash.digest("hex");
      try {
        options.onDigest?.(sha256);
      } catch (error) {
        callback(error as Error);
        return;
      }
      if (!options.raw) return callback();
      options.raw.end(callback);
    },
  });

  const rows = new RowRewriter(file);
  /** Runs one step of the rewrite, counting what it produces; a thrown error fails the pipeline. */
  const settle = (callback: TransformCallback, produce: () => Buffer): void => {
    let out: Buffer;
    try {
      out = produce();
    } catch (error) {
      callback(error as Error);
      return;
    }
    cleanBytes += out.length;
    callback(null, out.length > 0 ? out : undefined);
  };
  const clean = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      settle(callback, () => rows.push(transcoder.push(chunk)));
    },
    flush(callback) {
      settle(callback, () => Buffer.concat([rows.push(transcoder.end()), rows.end()]));
    },
  });

  await pipeline(options.input, tap, clean, options.output);
  return {
    encoding: transcoder.detected,
    bytes,
    sha256,
    rows: rows.rows,
    cleanBytes,
    columns: rows.columns,
    delimiter: rows.delimiter,
  };
}

/**
 * Rewrites records as clean rows, byte to byte: runs of plain fields are block copies, and only a field that
 * needs quoting is handled on its own. Output goes to a buffer sized for the worst case of each record, handed
 * downstream once per input chunk.
 */
class RowRewriter {
  private header: Header | undefined;
  private trecho = -1;
  private readonly reader: CsvReader;
  private out: Buffer = Buffer.alloc(0);
  private at = 0;
  private readonly roadNames = new Map<string, Buffer>();
  private lastTrecho: Buffer | undefined;
  private lastRoad: Buffer = Buffer.alloc(0);
  private readonly kernel = new PlainRowKernel();
  rows = 0;

  constructor(private readonly file: string) {
    this.reader = new CsvReader({
      file,
      onRecord: (record) => this.rewrite(record),
      onPlainLine: (data, start, end, line) => this.rewritePlain(data, start, end, line),
    });
  }

  get columns(): string[] {
    return this.header?.columns ?? [];
  }

  get delimiter(): SourceDelimiter {
    return String.fromCharCode(this.reader.delimiter ?? 0x3b) as SourceDelimiter;
  }

  /** Rewrites every record complete in `data` (UTF-8), returning the clean bytes. */
  push(data: Buffer): Buffer {
    if (data.length === 0) return EMPTY;
    this.out = Buffer.allocUnsafe(data.length + (data.length >> 2) + 4096);
    this.at = 0;
    this.kernel.reset();
    this.reader.push(data);
    return this.take();
  }

  end(): Buffer {
    this.out = Buffer.allocUnsafe(4096);
    this.at = 0;
    this.kernel.reset();
    this.reader.end();
    if (!this.header) {
      throw new RoadtollError("HeaderError", "the file is empty: no header row", {
        where: { resource: this.file, line: 1 },
      });
    }
    return this.take();
  }

  private take(): Buffer {
    const out = this.out.subarray(0, this.at);
    this.out = EMPTY;
    this.at = 0;
    return out;
  }

  private rewrite(record: CsvRecord): void {
    if (!this.header) {
      this.header = parseHeader(record.texts().map(renameReserved), this.file);
      this.trecho = this.header.index.get("trecho") ?? -1;
      this.append(
        Buffer.from(formatCsvRow([...this.header.columns, SOURCE_LINE_COLUMN, ROAD_NAME_COLUMN]), "utf8"),
      );
      return;
    }
    this.rows++;
    const { buffer, count, starts, ends, flags } = record;
    const first = starts[0] as number;
    const last = ends[count - 1] as number;
    // Worst case: every byte a doubled quote, two quotes and a comma per field.
    this.reserve(2 * (last - first) + 3 * count);
    const out = this.out;
    let at = this.at;

    let i = 0;
    while (i < count) {
      if (i > 0) out[at++] = COMMA;
      const flag = flags[i] as number;
      if (flag === 0) {
        // A run of unquoted fields sits back to back in the source, one delimiter apart: copy it in one block,
        // then turn its delimiters into commas. A plain ANTT row is a single run.
        let j = i + 1;
        while (j < count && flags[j] === 0) j++;
        const from = starts[i] as number;
        const to = ends[j - 1] as number;
        buffer.copy(out, at, from, to);
        for (let k = i; k < j - 1; k++) out[at + (ends[k] as number) - from] = COMMA;
        at += to - from;
        i = j;
        continue;
      }
      const start = starts[i] as number;
      const end = ends[i] as number;
      if ((flag & NEEDS_QUOTES) === 0) {
        // Quoted in the source, but nothing in it needs quotes here.
        buffer.copy(out, at, start, end);
        at += end - start;
      } else if (flag & QUOTED) {
        // A quoted field's bytes already have their quotes doubled.
        out[at++] = QUOTE;
        buffer.copy(out, at, start, end);
        at += end - start;
        out[at++] = QUOTE;
      } else {
        out[at++] = QUOTE;
        for (let k = start; k < end; k++) {
          const byte = buffer[k] as number;
          out[at++] = byte;
          if (byte === QUOTE) out[at++] = QUOTE;
        }
        out[at++] = QUOTE;
      }
      i++;
    }
    this.at = at;
    const trecho = this.trecho;
    this.endRow(
      record.line,
      trecho < 0 || trecho >= count
        ? EMPTY
        : this.roadName(
            buffer,
            starts[trecho] as number,
            ends[trecho] as number,
            ((flags[trecho] as number) & ESCAPED) !== 0,
          ),
    );
  }

  /**
   * A plain line (see CsvReader's onPlainLine): the WebAssembly kernel writes its clean row (plain-line-kernel.ts),
   * road included when its `trecho` is in the kernel's road slots; else the road is decoded here and given to the
   * kernel for the next rows.
   */
  private rewritePlain(data: Buffer, start: number, end: number, line: number): void {
    this.rows++;
    const kernel = this.kernel;
    kernel.load(data);
    const written = kernel.row(start, end, this.reader.delimiter as number, this.trecho, line);
    if (written > 0) {
      this.reserve(written);
      kernel.bytes.copy(this.out, this.at, kernel.rowAt, kernel.rowAt + written);
      this.at += written;
      return;
    }
    const road = this.roadName(data, kernel.trechoStart, kernel.trechoEnd, false);
    kernel.remember(road);
    this.reserve(-written);
    this.at += kernel.bytes.copy(this.out, this.at, kernel.rowAt, kernel.rowAt - written);
    this.endRoad(road);
  }

  /** Appends `,source_line,road_name` and the line end. */
  private endRow(line: number, road: Buffer): void {
    this.reserve(24);
    const out = this.out;
    let at = this.at;
    out[at++] = COMMA;
    at = writeDigits(out, at, line);
    out[at++] = COMMA;
    this.at = at;
    this.endRoad(road);
  }

  /** Appends the road and the line end. */
  private endRoad(road: Buffer): void {
    this.reserve(road.length + 1);
    const out = this.out;
    let at = this.at;
    // Byte by byte: a road is a few bytes, and a native copy costs more than that per call.
    for (let i = 0; i < road.length; i++) out[at++] = road[i] as number;
    out[at++] = LF;
    this.at = at;
  }

  /**
   * The canonical road name, as a clean field, of the `trecho` bytes `data[start, end)` (`escaped`: with their
   * quotes doubled); decoded only when the bytes differ from the previous row's.
   */
  private roadName(data: Buffer, start: number, end: number, escaped: boolean): Buffer {
    if (this.lastTrecho && sameBytes(this.lastTrecho, data, start, end)) return this.lastRoad;
    const text = data.toString("utf8", start, end);
    const trecho = escaped ? text.replaceAll('""', '"') : text;
    let road = this.roadNames.get(trecho);
    if (road === undefined) {
      road = encodeCsvField(canonicalRoadName(trecho));
      if (this.roadNames.size < ROAD_NAME_CACHE_LIMIT) this.roadNames.set(trecho, road);
    }
    this.lastTrecho = Buffer.from(data.subarray(start, end));
    this.lastRoad = road;
    return road;
  }

  private append(bytes: Buffer): void {
    this.reserve(bytes.length);
    bytes.copy(this.out, this.at);
    this.at += bytes.length;
  }

  private reserve(size: number): void {
    if (this.at + size <= this.out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.at + size + 4096));
    this.out.copy(grown, 0, 0, this.at);
    this.out = grown;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * The clean file appends `source_line` and `road_name`; a source column normalised to either name (a clean file
 * fed back in, say) is kept as `original_<name>`, so the header never names a column twice.
 */
function renameReserved(cell: string): string {
  const name = normaliseColumnName(cell);
  return name === SOURCE_LINE_COLUMN || name === ROAD_NAME_COLUMN ? `original_${name}` : cell;
}

/** Writes a line number (below 2^31) in decimal; with integer steps only (Math.log10 was 2.5% of the step). */
function writeDigits(out: Buffer, at: number, value: number): number {
  let digits = 1;
  for (let bound = 10; value >= bound && digits < 10; bound *= 10) digits++;
  let rest = value;
  for (let i = at + digits - 1; i >= at; i--) {
    const next = (rest / 10) | 0;
    out[i] = ZERO + rest - 10 * next;
    rest = next;
  }
  return at + digits;
}
