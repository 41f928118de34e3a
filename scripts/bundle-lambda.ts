/**
 * Bundles the Lambda entry points exactly as their images ship them; images/Dockerfile runs it for each, so the
 * esbuild settings live here once. Plain Node runs it (type stripping, Node ≥ 22.18): no tsx in the image build.
 *
 *   node scripts/bundle-lambda.ts [--outdir dist] [--metafile] ingest deaths migrate
 *   npm run build:bundles        # all four into dist/<fn>/index.mjs (+ .map)
 *
 * - Everything, the AWS SDK included, goes into one file: the versions are the lockfile's rather than whatever
 *   SDK the runtime ships, and the image needs no node_modules.
 * - --main-fields=module,main takes the ES-module builds of the AWS SDK, which esbuild can tree-shake (the
 *   CommonJS builds load every command of a client): a faster cold start. Minified, the file is half the size.
 * - The source map (mappings only, no sources) keeps stack traces pointing at src/ under
 *   NODE_OPTIONS=--enable-source-maps, which each Dockerfile sets.
 * - The banner gives CommonJS dependencies the `require` that ESM lacks; the externals are embedded-database code
 *   only used off Lambda, and pg's optional native binding.
 */

import { dirname, join, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type BuildOptions, build, type Plugin } from "esbuild";

export const FUNCTIONS = ["ingest", "deaths", "migrate", "api"] as const;
export type LambdaFunction = (typeof FUNCTIONS)[number];

export const EXTERNAL = ["@electric-sql/pglite", "pg-native"];

/**
 * zod's `z` namespace object, which @hono/zod-openapi imports whole, carries every locale's messages: 264 KB of
 * the API bundle and 30 ms of its cold start, for messages roadtoll never shows (its own are English, zod's
 * default). Bundled, `z.locales` holds English only.
 */
const zodEnglishOnly: Plugin = {
  name: "zod-english-only",
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${sep}zod${sep}`)
        ? { path: join(dirname(args.importer), "../locales/en.js"), namespace: "zod-locales" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: dirname(args.path),
    }));
  },
};

/** What every Lambda bundle is built with (the bench builds its children with the same). */
export const LAMBDA_BUILD_OPTIONS = {
  bundle: true,
  platform: "node",
  target: "node22",
  format: "esm",
  mainFields: ["module", "main"],
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
  external: EXTERNAL,
  plugins: [zodEnglishOnly],
  logLevel: "error",
} satisfies BuildOptions;

export async function bundleLambda(
  fn: LambdaFunction,
  options: { outdir?: string; metafile?: boolean; cwd?: string } = {},
): Promise<string> {
  const outfile = `${options.outdir ?? "dist"}/${fn}/index.mjs`;
  const result = await build({
    absWorkingDir: options.cwd ?? process.cwd(),
    ...LAMBDA_BUILD_OPTIONS,
    entryPoints: [`src/lambda/${fn}.ts`],
    outfile,
    metafile: options.metafile === true,
    logLevel: "error",
  });
  if (options.metafile && result.metafile) {
    const { writeFile } = await import("node:fs/promises");
    await writeFile(`${outfile}.meta.json`, JSON.stringify(result.metafile));
  }
  return outfile;
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { outdir: { type: "string" }, metafile: { type: "boolean" }, help: { type: "boolean" } },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(
      `usage: node scripts/bundle-lambda.ts [--outdir dist] [--metafile] ${FUNCTIONS.join(" ")}\n`,
    );
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  for (const fn of positionals) {
    if (!(FUNCTIONS as readonly string[]).includes(fn)) {
      throw new Error(`unknown function "${fn}" (known: ${FUNCTIONS.join(", ")})`);
    }
    const outfile = await bundleLambda(fn as LambdaFunction, {
      ...(values.outdir ? { outdir: values.outdir } : {}),
      metafile: values.metafile === true,
    });
    process.stdout.write(`${outfile}\n`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  await main(process.argv.slice(2));
