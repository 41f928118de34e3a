/**
 * Preloaded into the `npm start` child (`node --import tsx --import bench/rss-probe.ts src/cli/main.ts …`): when
 * the process exits, it writes its peak RSS (bytes; see peak-rss.ts) to $BENCH_RSS_FILE. The CLI itself is
 * unchanged; this only reads what the kernel counted.
 */
import { writeFileSync } from "node:fs";
import { peakRss } from "./peak-rss.js";

const target = process.env.BENCH_RSS_FILE;
if (target) {
  process.on("exit", () => writeFileSync(target, String(peakRss())));
}
