import { pipeline, Transform } from "node:stream";
import type { Downloader } from "../adapters/http-download.js";

/**
 * One status line on a terminal while downloads run: each active download's bytes and rate, redrawn at most every
 * `intervalMs`, erased before any other line is logged and when the last download ends. Only for a TTY: without
 * one nothing is drawn, so logs and tests stay clean.
 */
export interface DownloadProgress {
  /** Wraps a downloader so its bodies are counted as they are read. */
  wrap(download: Downloader, name: (url: string) => string): Downloader;
  /** Logs a line, erasing the status line first and drawing it again after. */
  log(line: string): void;
}

export function downloadProgress(
  write: (text: string) => void,
  options: { enabled: boolean; intervalMs?: number; now?: () => number },
): DownloadProgress {
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? 250;
  const active = new Map<number, { name: string; bytes: number; started: number }>();
  let next = 0;
  let drawn = false;
  let lastDraw = 0;

  const erase = () => {
    if (drawn) write("\r\x1b[K");
    drawn = false;
  };
  const draw = () => {
    erase();
    if (active.size === 0) return;
    const at = now();
    const parts = [...active.values()].map(
      (item) =>
        `${item.name} ${bytes(item.bytes)} (${bytes(item.bytes / Math.max((at - item.started) / 1000, 0.001))}/s)`,
    );
    write(`↓ ${parts.join(" · ")}`);
    drawn = true;
    lastDraw = at;
  };

  return {
    log(line) {
      if (!options.enabled) {
        write(`${line}\n`);
        return;
      }
      erase();
      write(`${line}\n`);
      if (active.size > 0) draw();
    },
    wrap(download, name) {
      if (!options.enabled) return download;
      return async (url, conditions) => {
        const result = await download(url, conditions);
        if (result.notModified) return result;
        const id = next++;
        active.set(id, { name: name(url), bytes: 0, started: now() });
        // Counted as the reader takes the bytes: a "data" listener would start the flow on its own.
        const counter = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            const item = active.get(id);
            if (item) {
              item.bytes += chunk.length;
              if (now() - lastDraw >= intervalMs) draw();
            }
            callback(null, chunk);
          },
        });
        const done = () => {
          if (!active.delete(id)) return;
          erase();
          if (active.size > 0) draw();
        };
        counter.on("end", done);
        counter.on("close", done);
        // Errors and early ends travel both ways, as in limited() (http-download.ts).
        pipeline(result.body, counter, () => {});
        return { ...result, body: counter };
      };
    },
  };
}

function bytes(count: number): string {
  const units = ["B", "KB", "MB", "GB"];
  let value = count;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
