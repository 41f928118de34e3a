/**
 * Synthetic ANTT-format input for the domain benchmark, produced chunk by chunk: the whole file never exists in
 * memory. A block of rows is rendered once with the sample generator (scripts/generate-samples.ts, so every quirk
 * of the real files is there: ISO-8859-1, `;`, decimal-comma km, empty counts, a few bad rows) and then emitted
 * again and again, sliced into 64 KiB chunks like a file or socket read, until the requested size is reached.
 * Re-emitting one block keeps the generator's own cost near zero, so the figures are the domain code's.
 */
import { Readable, Writable } from "node:stream";
import { setImmediate } from "node:timers/promises";
import { HEADER, renderSample, SAMPLES } from "../scripts/generate-samples.js";
import { cleanCsv } from "../src/domain/clean-csv.js";

/** Like fs.createReadStream's default highWaterMark. */
export const CHUNK = 64 * 1024;
/** Rows per rendered block: about 1 MB of source text. */
const BLOCK_ROWS = 10_000;

export interface SyntheticBlock {
  /** Header line, newline included. */
  header: Buffer;
  /** Data rows only, ending with a newline, so blocks can be concatenated. */
  body: Buffer;
  /** Data rows in `body` (sample oddities included). */
  rows: number;
}

/** One block of source rows, encoded as the spec says (ISO-8859-1 for the first sample). */
export function sourceBlock(): SyntheticBlock {
  const spec = SAMPLES[0];
  if (!spec) throw new Error("scripts/generate-samples.ts defines no sample");
  const rendered = renderSample({ ...spec, rows: BLOCK_ROWS, seed: 2024 });
  const text = rendered.toString("latin1");
  const headerEnd = text.indexOf("\n") + 1;
  if (text.slice(0, headerEnd - 1) !== HEADER) throw new Error("unexpected sample header");
  // Drop the trailing blank line: the block is repeated, and a blank line every block is not realistic.
  const body = text.slice(headerEnd).replace(/\n+$/, "\n");
  return {
    header: rendered.subarray(0, headerEnd),
    body: Buffer.from(body, "latin1"),
    rows: body.split("\n").length - 1,
  };
}

/**
 * The same rows after the ingest step (UTF-8 RFC 4180, snake_case header, + source_line and road_name): the input
 * computeDeaths reads. Built by running the real cleanCsv over one block, in memory (one block is ~1 MB).
 */
export async function cleanBlock(source: SyntheticBlock): Promise<SyntheticBlock> {
  const parts: Buffer[] = [];
  const output = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      callback();
    },
  });
  const result = await cleanCsv({
    input: Readable.from([Buffer.concat([source.header, source.body])]),
    file: "synthetic.csv",
    output,
  });
  const all = Buffer.concat(parts);
  const headerEnd = all.indexOf(0x0a) + 1;
  return { header: all.subarray(0, headerEnd), body: all.subarray(headerEnd), rows: result.rows };
}

/** How many times `block` is repeated to reach at least `targetBytes`. */
export function repeatsFor(block: SyntheticBlock, targetBytes: number): number {
  return Math.max(1, Math.ceil((targetBytes - block.header.length) / block.body.length));
}

/** Header, then `repeats` copies of the body, in CHUNK-sized slices that cut rows anywhere, as a real read does. */
export async function* chunks(block: SyntheticBlock, repeats: number): AsyncGenerator<Buffer> {
  yield block.header;
  for (let r = 0; r < repeats; r++) {
    for (let at = 0; at < block.body.length; at += CHUNK) {
      // Real bytes arrive from the event loop's poll phase, one read per macrotask. Without this the whole
      // pipeline would run in microtasks, starving timers (the memory sampler among them) until the end.
      await setImmediate();
      yield block.body.subarray(at, Math.min(at + CHUNK, block.body.length));
    }
  }
}

export function syntheticStream(block: SyntheticBlock, repeats: number): Readable {
  // objectMode false: the consumer sees a byte stream; highWaterMark of one chunk keeps nothing queued ahead.
  return Readable.from(chunks(block, repeats), { objectMode: false, highWaterMark: CHUNK });
}

/** A sink that counts and drops what it gets. */
export function discard(): Writable & { bytes: number } {
  const sink = new Writable({
    decodeStrings: false,
    write(chunk: Buffer | string, _encoding, callback) {
      sink.bytes += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
      callback();
    },
  }) as Writable & { bytes: number };
  sink.bytes = 0;
  return sink;
}
