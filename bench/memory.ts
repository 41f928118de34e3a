/** Samples process.memoryUsage() on a timer and keeps the peaks. */
export interface MemoryPeak {
  rss: number;
  heapUsed: number;
  samples: number;
}

export interface MemorySampler {
  /** Stops sampling (taking one last sample) and returns the peaks. */
  stop(): MemoryPeak;
}

export function startMemorySampler(intervalMs = 10): MemorySampler {
  const peak: MemoryPeak = { rss: 0, heapUsed: 0, samples: 0 };
  const sample = () => {
    const usage = process.memoryUsage();
    if (usage.rss > peak.rss) peak.rss = usage.rss;
    if (usage.heapUsed > peak.heapUsed) peak.heapUsed = usage.heapUsed;
    peak.samples++;
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { ...peak };
    },
  };
}
