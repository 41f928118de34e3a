/**
 * The benchmark's input files, written to disk in ANTT format: ISO-8859-1, `;`, one header row, `\n` line ends.
 *
 * - synthetic: a block of 10,000 rows rendered once by the sample generator (scripts/generate-samples.ts, so every
 *   quirk of the published files is there: decimal-comma km, empty and space-only counts, quotes inside fields, a
 *   short row, a non-numeric and a negative count), repeated until the target size;
 * - real: the data rows of the real ANTT files (../shared/data/antt), in file-name order, under one header,
 *   repeated until the target size, as the 415 MB file was built.
 *
 * Either way the last copy is cut at a line end, so a file is the target size plus less than one row.
 */
import { open, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { HEADER, renderSample, SAMPLES } from "../scripts/generate-samples.js";

const MB = 1e6;
const NEWLINE = 0x0a;
/** Rows per rendered synthetic block: about 1 MB of source text. */
const BLOCK_ROWS = 10_000;

export interface Dataset {
  /** Short name used in tables and as the file's stem (and so as the pipeline's `source`). */
  label: string;
  kind: "synthetic" | "real";
  path: string;
  /** File name inside the served folder. */
  file: string;
  bytes: number;
  /** Data lines (non-blank lines after the header), bad rows included. */
  rows: number;
}

interface Block {
  /** Header line, newline included. */
  header: Buffer;
  /** Data rows only, each ending with a newline. */
  body: Buffer;
  rows: number;
}

function countLines(buffer: Buffer): number {
  let lines = 0;
  for (let at = buffer.indexOf(NEWLINE); at !== -1; at = buffer.indexOf(NEWLINE, at + 1)) lines++;
  return lines;
}

/** One ~1 MB block of synthetic ISO-8859-1 rows (the first sample's spec, 10,000 rows, a fixed seed). */
export function syntheticBlock(): Block {
  const spec = SAMPLES[0];
  if (spec?.encoding !== "latin1") throw new Error("scripts/generate-samples.ts: no ISO-8859-1 sample");
  const rendered = renderSample({ ...spec, rows: BLOCK_ROWS, seed: 2024 });
  const headerEnd = rendered.indexOf(NEWLINE) + 1;
  if (rendered.subarray(0, headerEnd - 1).toString("latin1") !== HEADER) throw new Error("unexpected header");
  // The sample ends with a blank line; a blank line every block would not be realistic, so it is dropped.
  let end = rendered.length;
  while (end > headerEnd && rendered[end - 1] === NEWLINE && rendered[end - 2] === NEWLINE) end--;
  const body = rendered.subarray(headerEnd, end);
  return { header: rendered.subarray(0, headerEnd), body, rows: countLines(body) };
}

/** The data rows of every real file, under the first file's header (all 18 share it; a file that differs fails). */
export async function realBlock(directory: string): Promise<Block | undefined> {
  const files = (await readdir(directory)).filter((name) => name.toLowerCase().endsWith(".csv")).sort();
  if (files.length === 0) return undefined;
  let header: Buffer | undefined;
  const bodies: Buffer[] = [];
  for (const file of files) {
    const bytes = await readFile(join(directory, file));
    const headerEnd = bytes.indexOf(NEWLINE) + 1;
    const own = bytes.subarray(0, headerEnd);
    if (!header) header = own;
    else if (!own.equals(header)) throw new Error(`${file}: its header differs from ${files[0]}'s`);
    // Blank lines are kept out so that rows = lines; every file's last row ends with a newline.
    const lines = bytes
      .subarray(headerEnd)
      .toString("latin1")
      .split("\n")
      .filter((line) => line.trim() !== "");
    bodies.push(Buffer.from(`${lines.join("\n")}\n`, "latin1"));
  }
  const body = Buffer.concat(bodies);
  return { header: header ?? Buffer.alloc(0), body, rows: countLines(body) };
}

/**
 * Writes `block`'s header once, then its body again and again until `targetBytes`, the last copy cut right after
 * the line that reaches the target. Returns the file's size and data rows.
 */
export async function writeRepeated(
  path: string,
  block: Block,
  targetBytes: number,
): Promise<{ bytes: number; rows: number }> {
  const handle = await open(path, "w");
  try {
    await handle.write(block.header);
    let bytes = block.header.length;
    let rows = 0;
    while (bytes + block.body.length <= targetBytes) {
      await handle.write(block.body);
      bytes += block.body.length;
      rows += block.rows;
    }
    if (bytes < targetBytes) {
      const cut = block.body.indexOf(NEWLINE, targetBytes - bytes - 1) + 1;
      const tail = block.body.subarray(0, cut > 0 ? cut : block.body.length);
      await handle.write(tail);
      bytes += tail.length;
      rows += countLines(tail);
    }
    return { bytes, rows };
  } finally {
    await handle.close();
  }
}

export async function writeSynthetic(directory: string, sizeMb: number): Promise<Dataset> {
  const label = `synthetic_${sizeMb}MB`;
  const file = `bench_${label}.csv`;
  const path = join(directory, file);
  const { bytes, rows } = await writeRepeated(path, syntheticBlock(), sizeMb * MB);
  return { label, kind: "synthetic", path, file, bytes, rows };
}

export async function writeReal(
  directory: string,
  sourceDirectory: string,
  sizeMb: number,
): Promise<Dataset | undefined> {
  const block = await realBlock(sourceDirectory);
  if (!block) return undefined;
  const label = `antt_${sizeMb}MB`;
  const file = `bench_${label}.csv`;
  const path = join(directory, file);
  const { bytes, rows } = await writeRepeated(path, block, sizeMb * MB);
  return { label, kind: "real", path, file, bytes, rows };
}
