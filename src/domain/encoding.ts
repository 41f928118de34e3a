import { isAscii, isUtf8 } from "node:buffer";
import { RoadtollError } from "../errors.js";

export type SourceEncoding = "utf-8" | "utf-8-bom" | "iso-8859-1";

/**
 * How many bytes from the first non-ASCII byte on decide between UTF-8 and ISO-8859-1. Latin-1 Portuguese text
 * almost never forms valid multi-byte UTF-8 by accident, and one 64 KiB window holds hundreds of accented words.
 */
const DECISION_WINDOW = 64 * 1024;

type Mode = "undecided" | "utf-8" | "iso-8859-1";

const EMPTY = Buffer.alloc(0);

/**
 * Incremental transcoder that detects the encoding of a byte stream and turns it into UTF-8 without ever holding
 * more than one decision window. While every byte seen is ASCII both encodings agree, so the decision waits for
 * the first non-ASCII byte; from there, a window that is valid UTF-8 selects strict UTF-8 (a later invalid
 * sequence is an error, because a file that mixes encodings is corrupt), otherwise ISO-8859-1, which decodes
 * any byte. UTF-16 and binary content are refused. Errors name the line of the offending byte. The output is
 * UTF-8 bytes, not text: the CSV reader works on bytes, and valid UTF-8 passes through without a copy. The
 * bytes returned are valid until the next call: consume them (or copy them) before pushing again.
 */
export class Transcoder {
  private mode: Mode = "undecided";
  private bom = false;
  private started = false;
  /** Output of the ISO-8859-1 conversion, reused from one push to the next. */
  private scratch: Buffer = Buffer.alloc(0);
  /** Bytes that arrived before the BOM could be checked (fewer than three). */
  private head: Buffer[] = [];
  /** Bytes held while undecided, from the first non-ASCII byte on. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The start of a UTF-8 sequence cut by a chunk boundary, completed by the next chunk. */
  private carry: Buffer = Buffer.alloc(0);
  /** Position of the next byte to arrive, in the file, for locating NUL bytes. */
  private arrivedBytes = 0;
  private arrivedLine = 1;
  /** Line of the first byte held undecided, for locating an invalid sequence in it. */
  private pendingLine = 1;

  constructor(private readonly file: string) {}

  /** The encoding detected so far; `utf-8` while (and if) everything is ASCII. */
  get detected(): SourceEncoding {
    if (this.bom) return "utf-8-bom";
    return this.mode === "iso-8859-1" ? "iso-8859-1" : "utf-8";
  }

  push(chunk: Buffer): Buffer {
    if (this.started) return this.accept(chunk, false);
    this.head.push(chunk);
    const bytes = Buffer.concat(this.head);
    if (bytes.length < 3) return EMPTY;
    return this.begin(bytes, false);
  }

  end(): Buffer {
    if (!this.started) return this.begin(Buffer.concat(this.head), true);
    return this.accept(EMPTY, true);
  }

  private begin(bytes: Buffer, final: boolean): Buffer {
    this.started = true;
    this.head = [];
    if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
      throw this.error("the file is UTF-16; only UTF-8 and ISO-8859-1 are supported", 1);
    }
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      this.bom = true;
      this.mode = "utf-8";
      this.arrivedBytes = 3;
      return this.accept(bytes.subarray(3), final);
    }
    return this.accept(bytes, final);
  }

  private accept(bytes: Buffer, final: boolean): Buffer {
    // Lines are counted once, as bytes arrive; a bytes' first line is where the count stood before them (a UTF-8
    // sequence carried over from the last chunk holds no line break).
    const line = this.arrivedLine;
    this.refuseBinary(bytes);
    if (this.mode === "utf-8") return this.decodeUtf8(bytes, final, line);
    if (this.mode === "iso-8859-1") return this.decodeLatin1(bytes);
    if (this.pendingBytes === 0 && isAscii(bytes)) return this.decodeLatin1(bytes);
    if (this.pendingBytes === 0) this.pendingLine = line;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes < DECISION_WINDOW && !final) return EMPTY;
    return this.decide(final);
  }

  private decide(final: boolean): Buffer {
    const window = Buffer.concat(this.pending);
    // A multi-byte sequence cut at the window's end proves nothing yet: judge only complete sequences.
    const complete = final ? window : window.subarray(0, completeLength(window));
    if (!isUtf8(complete)) {
      this.mode = "iso-8859-1";
    } else if (final || !isAscii(complete)) {
      this.mode = "utf-8";
    } else {
      // The only non-ASCII bytes are an unfinished sequence at the end: wait for the bytes that finish it.
      this.pending = [window];
      return EMPTY;
    }
    this.pending = [];
    this.pendingBytes = 0;
    return this.mode === "utf-8"
      ? this.decodeUtf8(window, final, this.pendingLine)
      : this.decodeLatin1(window);
  }

  private decodeLatin1(bytes: Buffer): Buffer {
    if (isAscii(bytes)) return bytes;
    // Through a one-byte string (measured faster than buffer.transcode, which goes through ICU), into a reused
    // buffer: the caller consumes the result before the next push, and a fresh buffer per chunk is garbage
    // that makes V8 run full collections.
    const size = 2 * bytes.length;
    if (this.scratch.length < size) this.scratch = Buffer.allocUnsafe(Math.max(size, 1 << 17));
    const written = this.scratch.write(bytes.toString("latin1"), 0, size, "utf8");
    return this.scratch.subarray(0, written);
  }

  /** Checks and passes UTF-8 through; `line` is the line of `bytes[0]`, for the error. */
  private decodeUtf8(bytes: Buffer, final: boolean, line: number): Buffer {
    const all = this.carry.length > 0 ? Buffer.concat([this.carry, bytes]) : bytes;
    const cut = final ? all.length : completeLength(all);
    const complete = all.subarray(0, cut);
    // Copied so a 64 KiB chunk is not kept alive by its last two bytes.
    this.carry = cut === all.length ? EMPTY : Buffer.from(all.subarray(cut));
    if (!isUtf8(complete)) {
      const offset = firstInvalidOffset(complete);
      throw this.error(
        "invalid UTF-8 in a file that began as UTF-8: the file mixes encodings",
        line + countLines(complete.subarray(0, offset)),
      );
    }
    return complete;
  }

  private refuseBinary(bytes: Buffer): void {
    const nul = bytes.indexOf(0);
    if (nul !== -1) {
      throw this.error(
        `NUL byte at offset ${this.arrivedBytes + nul}: not a text file`,
        this.arrivedLine + countLines(bytes.subarray(0, nul)),
      );
    }
    this.arrivedBytes += bytes.length;
    this.arrivedLine += countLines(bytes);
  }

  private error(message: string, line: number): RoadtollError {
    return new RoadtollError("EncodingError", message, { where: { resource: this.file, line } });
  }
}

/** Length of `bytes` without a trailing, unfinished UTF-8 sequence. */
function completeLength(bytes: Buffer): number {
  for (let i = bytes.length - 1; i >= Math.max(0, bytes.length - 4); i--) {
    const byte = bytes[i] as number;
    if ((byte & 0xc0) === 0x80) continue;
    // ASCII, or a byte that can never start a sequence: nothing is unfinished (the validator judges the rest).
    if (byte < 0xc2 || byte > 0xf4) return bytes.length;
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    return bytes.length - i < needed ? i : bytes.length;
  }
  return bytes.length;
}

/** Offset of the first byte that makes `bytes` invalid UTF-8; only called on the error path. */
function firstInvalidOffset(bytes: Buffer): number {
  // Validity of prefixes is monotonic (a prefix of valid UTF-8 is valid once unfinished tails are allowed),
  // so a binary search finds the shortest invalid prefix with a logarithmic number of native decodes.
  let low = 0;
  let high = bytes.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (isUtf8(bytes.subarray(0, completeLength(bytes.subarray(0, middle + 1))))) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Line breaks in `bytes`, for locating errors: `\n`, and a `\r` not followed by `\n` (old Mac files). A `\r`
 * that ends the chunk counts as a break; when the next chunk opens with its `\n`, that `\n` counts again, so a
 * CRLF file cut exactly between the two bytes may name a line one too far. Only error messages see this.
 */
function countLines(bytes: Buffer): number {
  let count = 0;
  let at = bytes.indexOf(0x0a);
  while (at !== -1) {
    count++;
    at = bytes.indexOf(0x0a, at + 1);
  }
  at = bytes.indexOf(0x0d);
  while (at !== -1) {
    if (bytes[at + 1] !== 0x0a) count++;
    at = bytes.indexOf(0x0d, at + 1);
  }
  return count;
}
