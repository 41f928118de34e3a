import { WASM_BASE64 } from "./plain-line-kernel.wasm.js";

/**
 * Compiled once per process: the module is a few hundred bytes. WebAssembly SIMD is part of every Node since 16.4,
 * on x86-64 and arm64 alike.
 */
const kernel = new WebAssembly.Module(Buffer.from(WASM_BASE64, "base64"));

interface KernelExports {
  memory: WebAssembly.Memory;
  plain(start: number, end: number, delimiter: number, trecho: number, notes: number): number;
}

const PAGE = 65_536;
/** Bytes the kernel may read past a line's end (one vector, less a byte). */
const OVERREAD = 16;

/**
 * The scan of a plain line (no quote, no CR; see CsvReader's onPlainLine) for the cleaner, in WebAssembly
 * (plain-line-kernel.wat): 16 bytes at a time, its delimiters turned into commas, the `trecho` field found and the
 * fields holding a comma noted. It replaced a JavaScript loop over every byte that was a quarter of the ingest
 * step's profile (docs/performance.md).
 *
 * The kernel works on its own memory, so a buffer is first copied in whole (`load`), once per buffer the reader
 * hands out; each line is then scanned where it sits in that copy and copied out from there (`bytes`).
 */
export class PlainLineScanner {
  private readonly exports: KernelExports;
  private loaded: Buffer | undefined;
  private capacity = 0;
  private notesAt = 0;
  /** The kernel's memory from 0: a loaded buffer's bytes sit at their own offsets, plain lines cleaned. */
  bytes: Buffer = Buffer.alloc(0);
  /**
   * After `scan`: `notes[0]` and `notes[1]`, where field `trecho` starts and ends (-1 when the line has none);
   * from `notes[2]` on, the start and end of each field holding a comma, as many as `scan` returned.
   */
  notes: Int32Array = new Int32Array(0);

  constructor() {
    this.exports = new WebAssembly.Instance(kernel).exports as unknown as KernelExports;
    this.grow(0);
  }

  /** Forgets the loaded buffer: the next `load` copies, even a buffer reused with new contents. */
  reset(): void {
    this.loaded = undefined;
  }

  /** Copies `data` into the kernel's memory, unless it is the buffer loaded last since `reset`. */
  load(data: Buffer): void {
    if (data === this.loaded) return;
    if (data.length > this.capacity) this.grow(data.length);
    data.copy(this.bytes, 0);
    this.loaded = data;
  }

  /**
   * Cleans the plain line [start, end) of the loaded buffer in place (each `delimiter` a comma) and fills
   * `notes`; returns how many numbers follow `notes[1]` (two per field holding a comma). `trecho` -1: none.
   */
  scan(start: number, end: number, delimiter: number, trecho: number): number {
    return this.exports.plain(start, end, delimiter, trecho, this.notesAt);
  }

  /**
   * Room for `size` bytes and what the kernel notes on a line that long: at most one field with a comma every two
   * bytes, two numbers each, after the two for `trecho`.
   */
  private grow(size: number): void {
    const capacity = Math.max(size, 2 * this.capacity, 1 << 17);
    const notesAt = Math.ceil((capacity + OVERREAD) / 4) * 4;
    const needed = notesAt + 4 * (capacity + 4);
    const memory = this.exports.memory;
    const pages = Math.ceil(needed / PAGE) - memory.buffer.byteLength / PAGE;
    if (pages > 0) memory.grow(pages);
    this.capacity = capacity;
    this.notesAt = notesAt;
    this.bytes = Buffer.from(memory.buffer, 0, capacity + OVERREAD);
    this.notes = new Int32Array(memory.buffer, notesAt, capacity + 4);
  }
}
