import { WASM_BASE64 } from "./plain-line-kernel.wasm.js";

/**
 * Compiled once per process: the module is about a kilobyte. WebAssembly SIMD is part of every Node since 16.4,
 * on x86-64 and arm64 alike.
 */
const kernel = new WebAssembly.Module(Buffer.from(WASM_BASE64, "base64"));

interface KernelExports {
  memory: WebAssembly.Memory;
  row(
    start: number,
    end: number,
    delimiter: number,
    trecho: number,
    line: number,
    notes: number,
    dst: number,
  ): number;
}

const PAGE = 65_536;
/**
 * The kernel's memory layout (plain-line-kernel.wat): the last line's `trecho` field, the road slots, then the
 * input. A slot holds a `trecho` of up to 64 bytes and its road's clean field of up to 64 bytes: the real files'
 * are 2 to 32 bytes; longer ones are decoded every time.
 */
const SLOTS_AT = 16;
const SLOTS = 256;
const SLOT_BYTES = 136;
const SLOT_ROOM = 64;
const INPUT_AT = SLOTS_AT + SLOTS * SLOT_BYTES;
/** Bytes the kernel may read past a line's end, and write past a row's end (one vector, less a byte). */
const OVERREAD = 16;
/** A row's bytes besides its fields': `,line,`, the road and the LF. */
const ROW_EXTRA = 2 + 10 + SLOT_ROOM + 1;

/**
 * The clean row of a plain line (no quote, no CR; see CsvReader's onPlainLine), written by WebAssembly
 * (plain-line-kernel.wat) 16 bytes at a time: the line's delimiters turned into commas, the fields holding a comma
 * (ANTT's decimal commas) quoted, `source_line` and, when its `trecho` is in the kernel's road slots, `road_name`. It
 * replaced a JavaScript loop over every byte and the row's JavaScript ends, a third of the ingest step's profile
 * (docs/performance.md).
 *
 * The kernel works in its own memory: a buffer is first copied in whole (`load`), once per buffer the reader
 * hands out; each line's row is then written at `rowAt` and copied out from `bytes`.
 */
export class PlainRowKernel {
  private readonly exports: KernelExports;
  private loaded: Buffer | undefined;
  private capacity = 0;
  private notesAt = 0;
  /** Where the kernel writes each row, in `bytes`. */
  rowAt = 0;
  /** The kernel's whole memory. */
  bytes: Buffer = Buffer.alloc(0);
  /** Field `trecho` of the last line (its start, its end), and the road slot it belongs in. */
  private header: Int32Array = new Int32Array(0);

  constructor() {
    this.exports = new WebAssembly.Instance(kernel).exports as unknown as KernelExports;
    this.grow(0);
    for (let slot = SLOTS_AT; slot < INPUT_AT; slot += SLOT_BYTES) this.bytes.writeInt32LE(-1, slot);
  }

  /** Forgets the loaded buffer: the next `load` copies, even a buffer reused with new contents. */
  reset(): void {
    this.loaded = undefined;
  }

  /** Copies `data` into the kernel's memory, unless it is the buffer loaded last since `reset`. */
  load(data: Buffer): void {
    if (data === this.loaded) return;
    if (data.length > this.capacity) this.grow(data.length);
    data.copy(this.bytes, INPUT_AT);
    this.loaded = data;
  }

  /**
   * Writes at `rowAt` the clean row of the plain line [start, end) of the loaded buffer, its line number `line`;
   * returns its length, or minus its length when it ends `,line,` and awaits its road (`trechoStart`,
   * `trechoEnd`) and a LF. `trecho`: the field's index, -1 for none.
   */
  row(start: number, end: number, delimiter: number, trecho: number, line: number): number {
    return this.exports.row(
      start + INPUT_AT,
      end + INPUT_AT,
      delimiter,
      trecho,
      line,
      this.notesAt,
      this.rowAt,
    );
  }

  /** Where field `trecho` of the last line starts in the loaded buffer (-1: the line has none). */
  get trechoStart(): number {
    const at = this.header[0] as number;
    return at === -1 ? -1 : at - INPUT_AT;
  }

  get trechoEnd(): number {
    return (this.header[1] as number) - INPUT_AT;
  }

  /**
   * The next rows whose `trecho` is the last line's get `road` (a clean field) from the kernel itself, until
   * another `trecho` takes its slot. Call it after a `row` that left the road to the caller.
   */
  remember(road: Buffer): void {
    const header = this.header;
    const from = header[0] as number;
    const to = header[1] as number;
    const slot = header[2] as number;
    if (from === -1 || slot === -1 || road.length > SLOT_ROOM) return;
    this.bytes.writeInt32LE(to - from, slot);
    this.bytes.writeInt32LE(road.length, slot + 4);
    this.bytes.copy(this.bytes, slot + 8, from, to);
    road.copy(this.bytes, slot + 8 + SLOT_ROOM);
  }

  /**
   * Room for a `size`-byte buffer and what the kernel writes for a line that long: at most one field with a
   * comma every two bytes (two notes each), and a row of three bytes per byte at most (a comma between quotes).
   */
  private grow(size: number): void {
    const capacity = Math.max(size, 2 * this.capacity, 1 << 17);
    const notesAt = Math.ceil((INPUT_AT + capacity + OVERREAD) / 4) * 4;
    const rowAt = notesAt + 4 * (capacity + 4);
    const needed = rowAt + 3 * capacity + ROW_EXTRA + OVERREAD;
    const memory = this.exports.memory;
    const pages = Math.ceil(needed / PAGE) - memory.buffer.byteLength / PAGE;
    if (pages > 0) memory.grow(pages);
    this.capacity = capacity;
    this.notesAt = notesAt;
    this.rowAt = rowAt;
    this.bytes = Buffer.from(memory.buffer);
    this.header = new Int32Array(memory.buffer, 0, 4);
  }
}
