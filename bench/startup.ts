import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { textTable } from "../src/cli/text-table.js";

/** One command measured: what it is, and each run's wall time and peak RSS. */
interface Startup {
  name: string;
  args: string[];
  /** A data directory made fresh for each run (npm start on a new directory). */
  fresh?: boolean;
  seconds: number[];
  rss: number[];
}

/**
 * The CLI's start-up, whole-process: `node -e 0` as the floor, then `roadtoll --help`, `sql --list-queries`,
 * `results` on a kept data directory and `npm start` on the bundled samples (new and kept data directory), as a
 * user runs them (bin/roadtoll.mjs, the compiled build). Runs interleaved; medians of wall time, highest peak RSS.
 */
export async function measureStartup(root: string, work: string, repeats: number): Promise<string> {
  const bin = join(root, "bin/roadtoll.mjs");
  const probe = join(root, "bench/vmhwm-probe.mjs");
  const kept = join(work, "startup-kept");
  const commands: Startup[] = [
    { name: "node -e 0", args: ["-e", "0"], seconds: [], rss: [] },
    { name: "roadtoll --help", args: [bin, "--help"], seconds: [], rss: [] },
    { name: "roadtoll sql --list-queries", args: [bin, "sql", "--list-queries"], seconds: [], rss: [] },
    {
      name: "roadtoll results (kept data dir)",
      args: [bin, "results", "--data-dir", kept],
      seconds: [],
      rss: [],
    },
    { name: "npm start, samples, new data dir", args: [bin], fresh: true, seconds: [], rss: [] },
    { name: "npm start, samples, kept data dir", args: [bin, "--data-dir", kept], seconds: [], rss: [] },
  ];
  // The kept directory holds the samples' figures before anything is timed.
  run([bin, "--data-dir", kept], work);
  for (let round = 0; round < repeats; round++) {
    for (const command of commands) {
      const fresh = command.fresh ? await mkdtemp(join(work, "startup-new-")) : undefined;
      const rssFile = join(work, "startup-rss");
      const started = performance.now();
      run(["--import", probe, ...command.args, ...(fresh ? ["--data-dir", fresh] : [])], work, rssFile);
      command.seconds.push((performance.now() - started) / 1000);
      if (existsSync(rssFile)) command.rss.push(Number(await readFile(rssFile, "utf8")));
      if (fresh) await rm(fresh, { recursive: true, force: true });
    }
  }
  const floor = median(commands[0]?.seconds ?? []);
  const rows = commands.map((command) => {
    const wall = median(command.seconds);
    return [
      command.name,
      wall.toFixed(3),
      (wall / floor).toFixed(1),
      (Math.max(...command.rss, 0) / 2 ** 20).toFixed(0),
    ];
  });
  return (
    `start-up: whole process, ${repeats} runs each, interleaved; wall = median, RSS = highest peak (VmHWM)\n` +
    `${textTable(["command", "wall s", "× node", "peak RSS MiB"], rows, ["left", "right", "right", "right"])}\n`
  );
}

function run(args: string[], cwd: string, rssFile?: string): void {
  const result = spawnSync(process.execPath, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: "", ...(rssFile ? { BENCH_RSS_FILE: rssFile } : {}) },
  });
  if (result.status !== 0) {
    throw new Error(`node ${args.join(" ")} exited ${result.status}:\n${result.stderr.slice(-2000)}`);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
