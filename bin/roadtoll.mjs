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
// The CLI is TypeScript; tsx (a runtime dependency) loads it without a build step.
const { register } = await import("tsx/esm/api");
register();
await import("../src/cli/main.ts");
