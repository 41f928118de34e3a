/** What bench/run.ts and bench/child.ts say to each other. */

export type ChildTask =
  | { kind: "floor"; path: string }
  | { kind: "csv-parse"; path: string }
  | { kind: "duckdb"; path: string; threads: number }
  | { kind: "ingest"; url: string; source: string; s3Endpoint: string; bucket: string; keep: boolean }
  | { kind: "deaths"; event: DeathsEvent; s3Endpoint: string; bucket: string; databaseUrl: string };

/** The ingest result fields the deaths step reads. */
export interface DeathsEvent {
  bucket: string;
  key: string;
  source: string;
  runId: string;
  ingestedAt: string;
}

/** What every approach says about the file, so approaches can be checked against one another. */
export interface MetricCheck {
  /** Data rows the approach read (0 for the floor, which does not look for rows). */
  rowsRead: number;
  bytesRead?: number;
  rowsRejected?: number;
  roads?: number;
  totalDeaths?: number;
  deathsByVehicle?: Record<string, number>;
}

export interface ChildResult {
  /** Wall time of the measured work only. */
  seconds: number;
  /** CPU time of the child during the measured work (user + system, every thread of the process). */
  cpuSeconds: number;
  /** RSS right before the measured work (node, tsx and the modules already loaded). */
  rssBefore: number;
  /** Peak RSS of the whole child process, bytes (see peak-rss.ts). */
  maxRss: number;
  check: MetricCheck;
  /** Ingest only: the step's result, which the deaths step takes as its event. */
  ingest?: DeathsEvent & { bytes: number; cleanBytes: number; rows: number; rawKey: string };
}

export const RESULT_MARKER = "BENCH_RESULT ";

/** A child's measured work: its wall time, the RSS before it, and what it found. */
export type Timed = {
  seconds: number;
  /** CPU time (user + system, all threads) the child spent during the measured work. */
  cpuSeconds: number;
  rssBefore: number;
  check: MetricCheck;
  ingest?: ChildResult["ingest"];
};

/** Times `work` alone: whatever ran before (imports, clients) is not counted. */
export async function timed(
  work: () => Promise<Omit<Timed, "seconds" | "cpuSeconds" | "rssBefore">>,
): Promise<Timed> {
  const rssBefore = process.memoryUsage().rss;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await work();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { ...result, seconds, cpuSeconds: (used.user + used.system) / 1e6, rssBefore };
}
