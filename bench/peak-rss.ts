import { readFileSync } from "node:fs";

/**
 * This process's peak RSS in bytes. On Linux it is VmHWM from /proc/self/status, the high-water mark of this
 * program's own address space. getrusage's ru_maxrss is not used there: the kernel carries the parent's RSS at
 * fork time into it, so a child of a 200 MB parent would never report less than 200 MB. Elsewhere ru_maxrss is
 * the fallback.
 */
export function peakRss(): number {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (match?.[1]) return Number(match[1]) * 1024;
  } catch {
    // Not Linux: fall through.
  }
  return process.resourceUsage().maxRSS * 1024;
}
