import { existsSync, readFileSync } from "node:fs";
import { SourceMap, type SourceMapPayload } from "node:module";

/**
 * Stack traces of the minified bundles name the TypeScript files they came from, with the source map read only
 * when a stack is first formatted. `--enable-source-maps` parses the whole map (1.9 MB) as the bundle loads, and
 * holds it: 13–14 MiB more at start for every invocation, errors or not. Here the map beside the bundle
 * (index.mjs.map, as the image ships it) is parsed the first time an error's `stack` is read, then kept.
 *
 * Installed only in a bundle with its map beside it and no other source-map support on: from src/ (tsx, tests)
 * or build/ it does nothing, and V8 formats stacks as it always does.
 */
const bundle = import.meta.url;
const mapPath = new URL(`${bundle}.map`);

if (bundle.endsWith(".mjs") && !process.sourceMapsEnabled && existsSync(mapPath)) {
  let map: SourceMap | null | undefined;
  const sourceMap = (): SourceMap | null => {
    if (map === undefined) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(mapPath, "utf8")) as SourceMapPayload);
      } catch {
        map = null;
      }
    }
    return map;
  };

  Error.prepareStackTrace = (error: Error, frames: NodeJS.CallSite[]): string => {
    const lines = frames.map((frame) => {
      const where =
        frame.getFileName() === bundle &&
        sourceMap()?.findEntry((frame.getLineNumber() ?? 1) - 1, (frame.getColumnNumber() ?? 1) - 1);
      if (!where || !("originalSource" in where)) return `    at ${frame}`;
      // Sources are relative to the map (../../src/…): the same absolute path --enable-source-maps prints.
      const file = new URL(where.originalSource, mapPath).pathname;
      const location = `${file}:${where.originalLine + 1}:${where.originalColumn + 1}`;
      const name = frame.getFunctionName() ?? frame.getMethodName();
      return `    at ${frame.isAsync() ? "async " : ""}${name ? `${name} (${location})` : location}`;
    });
    return [Error.prototype.toString.call(error), ...lines].join("\n");
  };
}
