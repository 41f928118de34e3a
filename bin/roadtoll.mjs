#!/usr/bin/env node
// Node's version is checked before anything else loads (as src/cli/check-node.ts does for `npm start`): on an
// older Node the dependencies fail deep inside with a TypeError.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `roadtoll needs Node.js 22.19.0 or newer (package.json "engines"); this is Node.js ${process.versions.node}.\n` +
      "Install Node 22 (`nvm install` reads .nvmrc) and run again.\n",
  );
  process.exit(1);
}

// The CLI is TypeScript, compiled to build/ when npm installs the project (scripts/build-cli.mjs): that starts in
// a fraction of the time and memory. While any module under src/ is newer than the build (an edit, a checkout),
// tsx (a runtime dependency) loads the sources instead, so what runs is always what is in src/.
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

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
