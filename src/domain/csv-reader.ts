import { RoadtollError } from "../errors.js";

import { COMMA, CR, LF, QUOTE, SEMICOLON, TAB } from "./bytes.js";

/** Delimiters the header line can choose between, in the order a tie is broken. */
export const DELIMITERS = [SEMICOLON, COMMA, TAB] as const;
export type Delimiter = (typeof DELIMITERS)[number];
/** The same delimiters as text, as results and events carry them. */
export type SourceDelimiter = ";" | "," | "\t";

/** Field flags. */
export const QUOTED = 1;
/** The field needs quoting in comma-separated RFC 4180 output: it holds `,`, `"`, CR or LF. */
export const NEEDS_QUOTES = 2;
/** A quoted field with a doubled quote inside: its bytes must be unescaped to read it. */
export const ESCAPED = 4;

/** Byte classes for the unquoted-field loop: one table load per byte instead of four comparisons. */
const STOP = 1;
const SPECIAL = 2;

/** A record longer than this is refused: it almost always means a quote that is never closed. */
export const DEFAULT_MAX_RECORD_BYTES = 1 << 20;

/**
 * One record, as offsets into a buffer. The object and its arrays are reused for every record, so the reader
 * allocates nothing per row: a consumer reads what it needs inside the callback and keeps nothing.
 */
export class CsvRecord {
  buffer: Buffer = Buffer.alloc(0);
  /** Number of fields. */
  count = 0;
  /** Physical line the record starts on (1-based), counting `\n`, `\r\n` and `\r`, inside quotes too. */
  line = 0;
  /** Content of field i is `buffer[starts[i], ends[i])`, without its surrounding quotes. */
  starts = new Int32Array(64);
  ends = new Int32Array(64);
  flags = new Uint8Array(64);

  /** Field i decoded as UTF-8, quotes unescaped. */
  text(i: number): string {
    const text = this.buffer.toString("utf8", this.starts[i], this.ends[i]);
    return (this.flags[i] as number) & ESCAPED ? text.replaceAll('""', '"') : text;
  }

  /** Every field decoded, for tests, headers and error paths (never on the hot path). */
  texts(): string[] {
    const fields: string[] = [];
    for (let i = 0; i < this.count; i++) fields.push(this.text(i));
    return fields;
  }

  grow(): void {
    const size = this.starts.length * 2;
    const starts = new Int32Array(size);
    starts.set(this.starts);
    const ends = new Int32Array(size);
    ends.set(this.ends);
    const flags = new Uint8Array(size);
    flags.set(this.flags);
    this.starts = starts;
    this.ends = ends;
    this.flags = flags;
  }
}

export interface CsvReaderOptions {
  /** Name used in errors, usually the file or object key. */
  file: string;
  /** Fixed delimiter; when absent, it is detected from the header line. */
  delimiter?: Delimiter;
  maxRecordBytes?: number;
  /** Called once per record, header included; blank lines are skipped. The record is only valid during the call. */
  onRecord: (record: CsvRecord) => void;
  /**
   * Called instead of `onRecord` for a plain line after the first record: `data[start, end)` is the whole
   * record, ended by a LF or a CRLF (at `end`), with no quote and no other CR, so its fields are exactly what
   * lies between delimiters (one holding a comma, when the delimiter is not the comma, still needs quoting in
   * comma-separated output). Such a line is found with native scans and never split into fields: a consumer
   * that rewrites it whole (the cleaner) saves the per-field work. Without it, every record goes to `onRecord`.
   */
  onPlainLine?: (data: Buffer, start: number, end: number, line: number) => void;
}

/** Failed plain-line attempts in a row after which a chunk is read field by field (a fully quoted file, say). */
const PLAIN_MISSES = 8;

/**
 * A streaming RFC 4180 reader over bytes. Quoted fields may hold delimiters, doubled quotes and line breaks; a
 * `"` inside an unquoted field is an ordinary character (ANTT's files have thousands of those); lines end in
 * `\n`, `\r\n` or `\r`, mixed freely. The input must be UTF-8 or another ASCII-compatible encoding: every byte
 * the grammar looks at is ASCII, which a multi-byte UTF-8 sequence never contains. A record cut by a chunk
 * boundary is carried over and scanned again with the next chunk; records are bounded in size, so memory is
 * bounded whatever the file size.
 *
 * A quoted field whose closing quote is followed by anything but a delimiter or a line end is an error for the
 * whole file, not one row: once quoting is out of step, every following record boundary is in doubt, and
 * reading on could misalign rows instead of rejecting them.
 */
export class CsvReader {
  private readonly file: string;
  private readonly maxRecordBytes: number;
  private readonly onRecord: (record: CsvRecord) => void;
  private readonly onPlainLine:
    | ((data: Buffer, start: number, end: number, line: number) => void)
    | undefined;
  private emitted = false;
  private readonly record = new CsvRecord();
  private classes = new Uint8Array(256);
  private delim: Delimiter | undefined;
  private carry: Buffer | undefined;
  /**
   * Where a carried-over record and the next chunk are joined. Reused, since nothing outlives `push`: records
   * are only valid during the callback, and the next carry is copied out. A fresh buffer per chunk would be
   * garbage that, counted as external memory, makes V8 run full collections of the whole heap.
   */
  private work: Buffer = Buffer.alloc(0);
  /** A record ended on a CR that was the last byte of a chunk: a LF opening the next chunk belongs to it. */
  private skipLf = false;
  /** Line of the next byte to be parsed. */
  private line = 1;
  private ended = false;

  constructor(options: CsvReaderOptions) {
    this.file = options.file;
    this.maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.onRecord = options.onRecord;
    this.onPlainLine = options.onPlainLine;
    if (options.delimiter !== undefined) this.setDelimiter(options.delimiter);
  }

  /** The delimiter in use, once known. */
  get delimiter(): Delimiter | undefined {
    return this.delim;
  }

  /** Lines seen so far (the line number of the last line, once the input has ended). */
  get lines(): number {
    return this.line - 1;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    let data = chunk;
    if (this.carry) {
      const size = this.carry.length + chunk.length;
      if (this.work.length < size)
        this.work = Buffer.allocUnsafe(Math.max(size, 2 * this.work.length, 1 << 17));
      this.carry.copy(this.work, 0);
      chunk.copy(this.work, this.carry.length);
      data = this.work.subarray(0, size);
      this.carry = undefined;
    }
    if (this.skipLf) {
      this.skipLf = false;
      if (data[0] === LF) data = data.subarray(1);
    }
    this.consume(data, false);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    const data = this.carry;
    this.carry = undefined;
    if (data && data.length > 0) this.consume(data, true);
    // A file whose last line has no line end still counts that line.
    if (data && data.length > 0 && data[data.length - 1] !== LF && data[data.length - 1] !== CR) this.line++;
  }

  private consume(data: Buffer, final: boolean): void {
    if (this.delim === undefined) {
      const detected = detectDelimiter(data, final);
      if (detected === undefined) {
        this.keep(data, 0);
        return;
      }
      this.setDelimiter(detected);
    }
    const stopped = this.parse(data, final);
    if (stopped < data.length) this.keep(data, stopped);
  }

  private keep(data: Buffer, from: number): void {
    if (data.length - from > this.maxRecordBytes) {
      throw new RoadtollError(
        "CsvFormatError",
        `a record is longer than ${this.maxRecordBytes} bytes: probably a quote that is never closed`,
        { where: { resource: this.file, line: this.line } },
      );
    }
    // Copied so the chunk it came from can be collected.
    this.carry = Buffer.from(data.subarray(from));
  }

  private setDelimiter(delimiter: Delimiter): void {
    this.delim = delimiter;
    const classes = new Uint8Array(256);
    classes[delimiter] = STOP;
    classes[LF] = STOP;
    classes[CR] = STOP;
    classes[QUOTE] = SPECIAL;
    if (delimiter !== COMMA) classes[COMMA] = SPECIAL;
    this.classes = classes;
  }

  /**
   * Parses every complete record in `data` and returns where the first incomplete one starts (`data.length`
   * when none is). With `final`, the end of the data ends the last record.
   */
  private parse(data: Buffer, final: boolean): number {
    const n = data.length;
    const delim = this.delim as number;
    const classes = this.classes;
    const record = this.record;
    record.buffer = data;
    let pos = 0;
    const onPlainLine = this.onPlainLine;
    // Next quote and CR at or after the position they were found from; n when there is none. Each is searched
    // again only once passed, so each byte is scanned once.
    let nextQuote = -1;
    let nextCr = -1;
    let misses = onPlainLine === undefined ? PLAIN_MISSES : 0;

    records: while (pos < n) {
      const recordStart = pos;
      const startLine = this.line;
      let byte = data[pos] as number;
      // Blank line: skipped, but counted.
      if (byte === LF || byte === CR) {
        if (byte === CR) {
          if (pos + 1 === n && !final) {
            this.skipLf = true;
          } else if (data[pos + 1] === LF) {
            pos++;
          }
        }
        pos++;
        this.line++;
        continue;
      }

      if (misses < PLAIN_MISSES && this.emitted) {
        if (nextQuote < pos) nextQuote = indexOrEnd(data, QUOTE, pos);
        if (nextCr < pos) nextCr = indexOrEnd(data, CR, pos);
        const lf = data.indexOf(LF, pos);
        // No CR in the line, or only the one of a CRLF end (Windows exports, Excel's CSV): -1 otherwise.
        const end = nextCr > lf ? lf : nextCr === lf - 1 ? nextCr : -1;
        if (lf !== -1 && lf < nextQuote && end !== -1) {
          (onPlainLine as NonNullable<typeof onPlainLine>)(data, pos, end, this.line);
          this.line++;
          pos = lf + 1;
          misses = 0;
          continue;
        }
        misses++;
      }

      let count = 0;
      for (;;) {
        if (count === record.starts.length) record.grow();
        if (pos < n && data[pos] === QUOTE) {
          // Quoted field: runs to a quote that is not doubled.
          let i = pos + 1;
          const start = i;
          let flags = QUOTED;
          let end = -1;
          while (i < n) {
            byte = data[i] as number;
            if (byte === QUOTE) {
              if (i + 1 === n && !final) break;
              if (data[i + 1] === QUOTE) {
                flags |= ESCAPED | NEEDS_QUOTES;
                i += 2;
                continue;
              }
              end = i;
              i++;
              break;
            }
            if (byte === LF) {
              this.line++;
              flags |= NEEDS_QUOTES;
            } else if (byte === CR) {
              if (i + 1 === n && !final) break;
              if (data[i + 1] === LF) i++;
              this.line++;
              flags |= NEEDS_QUOTES;
            } else if (byte === COMMA) {
              flags |= NEEDS_QUOTES;
            }
            i++;
          }
          if (end === -1) {
            if (!final) return this.incomplete(recordStart, startLine);
            throw new RoadtollError("CsvFormatError", "a quoted field is never closed", {
              where: { resource: this.file, line: startLine, column: `field ${count + 1}` },
            });
          }
          record.starts[count] = start;
          record.ends[count] = end;
          record.flags[count] = flags;
          count++;
          if (i === n) {
            if (!final) return this.incomplete(recordStart, startLine);
            this.emit(count, startLine);
            return n;
          }
          byte = data[i] as number;
          if (byte === delim) {
            pos = i + 1;
            continue;
          }
          if (byte !== LF && byte !== CR) {
            throw new RoadtollError(
              "CsvFormatError",
              `a quoted field is closed on line ${this.line} and followed by ${describe(byte)} instead of a delimiter or a line end`,
              { where: { resource: this.file, line: startLine, column: `field ${count}` } },
            );
          }
          pos = i;
        } else {
          // Unquoted field: runs to the delimiter or the line end.
          let i = pos;
          let special = 0;
          while (i < n) {
            const kind = classes[data[i] as number] as number;
            if (kind !== 0) {
              if (kind === STOP) break;
              special = NEEDS_QUOTES;
            }
            i++;
          }
          record.starts[count] = pos;
          record.ends[count] = i;
          record.flags[count] = special;
          count++;
          if (i === n) {
            if (!final) return this.incomplete(recordStart, startLine);
            this.emit(count, startLine);
            return n;
          }
          if (data[i] === delim) {
            pos = i + 1;
            continue;
          }
          pos = i;
        }
        // At a line end.
        if (data[pos] === CR) {
          if (pos + 1 === n && !final) this.skipLf = true;
          else if (data[pos + 1] === LF) pos++;
        }
        pos++;
        this.line++;
        this.emit(count, startLine);
        continue records;
      }
    }
    return n;
  }

  private incomplete(recordStart: number, startLine: number): number {
    this.line = startLine;
    return recordStart;
  }

  private emit(count: number, line: number): void {
    const record = this.record;
    record.count = count;
    record.line = line;
    this.emitted = true;
    this.onRecord(record);
  }
}

/**
 * Picks the delimiter from the header line: the most frequent of `;`, `,` and tab outside quotes, ties going
 * to the earlier in that order (`;` when the line has none: a one-column header then fails on missing
 * columns). Returns undefined while the header line is incomplete.
 */
export function detectDelimiter(data: Buffer, final: boolean): Delimiter | undefined {
  let semicolons = 0;
  let commas = 0;
  let tabs = 0;
  let quoted = false;
  let i = 0;
  for (; i < data.length; i++) {
    const byte = data[i];
    if (byte === QUOTE) quoted = !quoted;
    else if (quoted) continue;
    else if (byte === LF || byte === CR) break;
    else if (byte === SEMICOLON) semicolons++;
    else if (byte === COMMA) commas++;
    else if (byte === TAB) tabs++;
  }
  if (i === data.length && !final) return undefined;
  if (tabs > semicolons && tabs > commas) return TAB;
  return commas > semicolons ? COMMA : SEMICOLON;
}

function indexOrEnd(data: Buffer, byte: number, from: number): number {
  const at = data.indexOf(byte, from);
  return at === -1 ? data.length : at;
}

function describe(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? `"${String.fromCharCode(byte)}"` : `byte 0x${byte.toString(16)}`;
}
