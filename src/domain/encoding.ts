import { TextDecoder } from "node:util";
import { RoadtollError } from "../errors.js";

export type SourceEncoding = "utf-8" | "utf-8-bom" | "iso-8859-1";

/**
 * How many bytes after the first non-ASCII byte decide between UTF-8 and ISO-8859-1. Latin-1 Portuguese text
 * almost never forms valid multi-byte UTF-8 by accident, and one 64 KiB window holds hundreds of accented words.
 */
const DECISION_WINDOW = 64 * 1024;

/**
 * Incremental decoder that detects the encoding of a byte stream and turns it into UTF-8 text without ever
 * holding more than one decision window. While every byte seen is ASCII both encodings agree, so the decision is
 * postponed to the first non-ASCII byte; after it, a window that is valid UTF-8 selects strict UTF-8 (a later
 * invalid sequence is an error, because a file that mixes encodings is corrupt), otherwise ISO-8859-1, which can
 * decode any byte. UTF-16 and binary content are refused.
 */
export class Transcoder {
  private encoding: SourceEncoding | undefined;
  private decoder: TextDecoder | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private bytesSeen = 0;
  private linesSeen = 1;
  private started = false;

  constructor(private readonly file: string) {}

  /** The encoding detected so far; `utf-8` when the whole input was ASCII. */
  get detected(): SourceEncoding {
    return this.encoding ?? "utf-8";
  }

  push(chunk: Buffer): string {
    let bytes = chunk;
    if (!this.started) {
      if (this.pendingBytes + bytes.length < 3 && !this.encoding) {
        // Too few bytes to see a BOM yet; keep them until we can.
        this.pending.push(bytes);
        this.pendingBytes += bytes.length;
        return "";
      }
      bytes = this.pending.length > 0 ? Buffer.concat([...this.pending, bytes]) : bytes;
      this.pending = [];
      this.pendingBytes = 0;
      this.started = true;
      bytes = this.stripBom(bytes);
    }
    this.refuseBinary(bytes);
    if (this.decoder) return this.decode(bytes, false);

    const firstNonAscii = bytes.findIndex((byte) => byte > 0x7f);
    if (firstNonAscii === -1 && this.pendingBytes === 0) {
      this.track(bytes);
      return bytes.toString("latin1");
    }
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes < DECISION_WINDOW) return "";
    return this.decide(false);
  }

  end(): string {
    if (!this.started) {
      const bytes = this.stripBom(Buffer.concat(this.pending));
      this.pending = [];
      this.pendingBytes = 0;
      this.started = true;
      if (bytes.length === 0) return "";
      this.pending.push(bytes);
      this.pendingBytes = bytes.length;
      this.refuseBinary(bytes);
    }
    if (this.decoder) return this.decode(Buffer.alloc(0), true);
    if (this.pendingBytes === 0) return "";
    return this.decide(true);
  }

  private decide(final: boolean): string {
    const window = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    let utf8 = true;
    try {
      // `stream: !final` tolerates a multi-byte sequence cut at the window's end.
      new TextDecoder("utf-8", { fatal: true }).decode(window, { stream: !final });
    } catch {
      utf8 = false;
    }
    this.encoding = utf8 ? (this.encoding ?? "utf-8") : "iso-8859-1";
    this.decoder = new TextDecoder(utf8 ? "utf-8" : "latin1", { fatal: utf8, ignoreBOM: true });
    return this.decode(window, final);
  }

  private decode(bytes: Buffer, final: boolean): string {
    try {
      const text = (this.decoder as TextDecoder).decode(bytes, { stream: !final });
      this.track(bytes);
      return text;
    } catch (error) {
      throw new RoadtollError(
        "EncodingError",
        "invalid UTF-8 after the start of the file was UTF-8: the file mixes encodings",
        { cause: error, where: { file: this.file, line: this.linesSeen + countNewlines(bytes) } },
      );
    }
  }

  private stripBom(bytes: Buffer): Buffer {
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      this.encoding = "utf-8-bom";
      this.decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
      return bytes.subarray(3);
    }
    if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
      throw new RoadtollError("EncodingError", "file is UTF-16; only UTF-8 and ISO-8859-1 are supported", {
        where: { file: this.file, line: 1 },
      });
    }
    return bytes;
  }

  private refuseBinary(bytes: Buffer): void {
    const nul = bytes.indexOf(0);
    if (nul !== -1) {
      throw new RoadtollError(
        "EncodingError",
        `NUL byte at offset ${this.bytesSeen + this.pendingBytes + nul}: not a text file`,
        {
          where: { file: this.file, line: this.linesSeen + countNewlines(bytes.subarray(0, nul)) },
        },
      );
    }
  }

  private track(bytes: Buffer): void {
    this.bytesSeen += bytes.length;
    this.linesSeen += countNewlines(bytes);
  }
}

function countNewlines(bytes: Buffer): number {
  let count = 0;
  let at = bytes.indexOf(0x0a);
  while (at !== -1) {
    count++;
    at = bytes.indexOf(0x0a, at + 1);
  }
  return count;
}
