#!/usr/bin/env node
// Node's version is checked before anything else loads: on an older Node the dependencies fail deep inside.
import "../scripts/check-node.mjs";

// The CLI is TypeScript, compiled to build/ when npm installs the project (scripts/build-cli.mjs): that starts in
// a fraction of the time and memory. While any module under src/ is newer than the build (an edit, a checkout),
// tsx (a runtime dependency) loads the sources instead, so what runs is always what is in src/.
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";

// PGlite's WebAssembly is run by V8's baseline compiler only. By default V8 also recompiles hot functions with its
// optimising compiler on background threads, and the process then waits for them at exit: a command that opens
// the embedded database took 0.23 s longer and 60 MB more, for queries that each take milliseconds here. Set
// before any WebAssembly is compiled (V8 reads it per compilation); ROADTOLL_WASM_TIERUP=1 turns it back on.
if (process.env.ROADTOLL_WASM_TIERUP !== "1") setFlagsFromString("--liftoff-only");

function newestSource(directory) {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = `${directory}/${entry.name}`;
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (!entry.name.endsWith(".test.ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const root = fileURLToPath(new URL("../", import.meta.url));
let built = 0;
try {
  built = statSync(`${root}build/.built`).mtimeMs;
} catch {
  // Not built (npm install --ignore-scripts): the sources, through tsx.
}
if (built > 0 && built >= newestSource(`${root}src`)) {
  await import("../build/cli/main.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/main.ts");
}
