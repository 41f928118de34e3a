/**
 * One domain measurement in a fresh process: `node --expose-gc --import tsx bench/domain-child.ts <kind> <MB>`.
 * Prints one JSON line (DomainMeasurement) on stdout. bench/run.ts spawns one per kind and size, so the memory
 * peaks of one run never carry over into the next.
 *
 *   source  the synthetic stream into a discarding sink: the generator's own cost, for reference
 *   clean   cleanCsv: synthetic ISO-8859-1 source → clean CSV (raw copy and clean output both discarded)
 *   deaths  computeDeaths: the same rows already cleaned → aggregate (rejects discarded)
 */
import { pipeline } from "node:stream/promises";
import { cleanCsv } from "../src/domain/clean-csv.js";
import { computeDeaths } from "../src/domain/compute-deaths.js";
import { startMemorySampler } from "./memory.js";
import { cleanBlock, discard, repeatsFor, sourceBlock, syntheticStream } from "./synthetic.js";

export type DomainKind = "source" | "clean" | "deaths";

export interface DomainMeasurement {
  kind: DomainKind;
  targetMb: number;
  /** Bytes the measured code read. */
  inputBytes: number;
  rows: number;
  seconds: number;
  /** Memory right before the run (after a full GC), at its peak during the run, and after it (after a GC). */
  baseline: { rss: number; heapUsed: number };
  peak: { rss: number; heapUsed: number };
  after: { rss: number; heapUsed: number };
  samples: number;
  /** A check that the run did real work: rows rejected (clean: rows written). */
  detail: string;
}

const MB = 1e6;

async function main(): Promise<void> {
  const [kind, size] = process.argv.slice(2);
  if (kind !== "source" && kind !== "clean" && kind !== "deaths") throw new Error(`unknown kind ${kind}`);
  const targetMb = Number(size);
  if (!(targetMb > 0)) throw new Error(`bad size ${size}`);

  const source = sourceBlock();
  const repeats = repeatsFor(source, targetMb * MB);
  // computeDeaths reads the clean file of the same source rows, so rows/s compare across kinds.
  const block = kind === "deaths" ? await cleanBlock(source) : source;
  const inputBytes = block.header.length + block.body.length * repeats;

  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const baseline = process.memoryUsage();
  const sampler = startMemorySampler();
  const started = process.hrtime.bigint();
  let rows = 0;
  let detail = "";

  if (kind === "source") {
    const sink = discard();
    await pipeline(syntheticStream(block, repeats), sink);
    rows = block.rows * repeats;
    detail = `${sink.bytes} bytes through`;
  } else if (kind === "clean") {
    const output = discard();
    const result = await cleanCsv({
      input: syntheticStream(block, repeats),
      file: "synthetic.csv",
      raw: discard(),
      output,
    });
    rows = result.rows;
    detail = `${result.encoding}, ${(result.cleanBytes / MB).toFixed(1)} MB clean`;
    if (output.bytes !== result.cleanBytes) throw new Error("clean output size mismatch");
  } else {
    const rejects = discard();
    const result = await computeDeaths({
      input: syntheticStream(block, repeats),
      file: "synthetic",
      rejects,
    });
    rows = result.rowsRead;
    detail = `${result.rowsRejected} rejected, ${result.roads.length} roads, ${result.totalDeaths} deaths`;
  }

  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const peak = sampler.stop();
  gc?.();
  const after = process.memoryUsage();
  const measurement: DomainMeasurement = {
    kind,
    targetMb,
    inputBytes,
    rows,
    seconds,
    baseline: { rss: baseline.rss, heapUsed: baseline.heapUsed },
    peak: { rss: peak.rss, heapUsed: peak.heapUsed },
    after: { rss: after.rss, heapUsed: after.heapUsed },
    samples: peak.samples,
    detail,
  };
  process.stdout.write(`${JSON.stringify(measurement)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
