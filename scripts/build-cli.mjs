/**
 * Compiles src/ to plain JavaScript in build/, one file per module in the same layout, so that `roadtoll` (and
 * `npm start`) run without loading TypeScript at run time: tsx costs ~0.8 s and ~45 MB before the first line
 * (docs/performance.md). `npm ci` / `npm install` run it (the `prepare` script); bin/roadtoll.mjs uses build/ only
 * while it is newer than every file under src/, and falls back to tsx otherwise, so an edit is never run stale.
 *
 * Not a bundle: modules stay files, so the lazy imports still load only what a command uses, and the paths the
 * code resolves from its own location (../../ for the repository, ./s3-worker.mjs, ./queries/) hold in build/ as
 * in src/. Plain JavaScript itself, so it runs on any Node that can run npm.
 */
import { cpSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SOURCE = join(ROOT, "src");
const OUT = join(ROOT, "build");
/** Written last: bin/roadtoll.mjs compares its time with src/'s files. */
const STAMP = ".built";

const modules = [];
const assets = [];
(function walk(directory) {
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith(".test.ts") || name.endsWith(".d.ts") || name.endsWith(".wat")) continue;
    else if (name.endsWith(".ts")) modules.push(path);
    else assets.push(path);
  }
})(SOURCE);

rmSync(OUT, { recursive: true, force: true });
await build({
  entryPoints: modules,
  outdir: OUT,
  outbase: SOURCE,
  platform: "node",
  target: "node22",
  format: "esm",
  logLevel: "error",
});
for (const asset of assets) cpSync(asset, join(OUT, relative(SOURCE, asset)));
// An initdb'd data directory, unpacked for every new one (src/db/embedded-database.ts): no initdb at run time.
const { TEMPLATE, writeTemplate } = await import(pathToFileURL(join(OUT, "db/embedded-database.js")).href);
await writeTemplate(TEMPLATE);
writeFileSync(join(OUT, STAMP), `${new Date().toISOString()}\n`);
