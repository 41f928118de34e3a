// Preloaded (node --import) into a start-up measurement's process: at exit it writes its peak RSS (VmHWM, bytes;
// see peak-rss.ts for why not ru_maxrss) to $BENCH_RSS_FILE. Plain JavaScript, so it adds no loader to what is
// measured.
import { readFileSync, writeFileSync } from "node:fs";

const target = process.env.BENCH_RSS_FILE;
if (target) {
  process.on("exit", () => {
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    writeFileSync(
      target,
      String(match?.[1] ? Number(match[1]) * 1024 : process.resourceUsage().maxRSS * 1024),
    );
  });
}
