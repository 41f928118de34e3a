// Writes docs/openapi.json from the API's route table (src/api/routes.ts), in the format Biome (npm run lint)
// keeps; tests/api.test.ts checks it is current.
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { createApiApp, openApiDocument } from "../src/api/app.js";

const path = fileURLToPath(new URL("../docs/openapi.json", import.meta.url));
const app = createApiApp({
  executions: { start: async () => {}, describe: async () => undefined },
  store: undefined as never,
  uploadUrlTtlSeconds: 1,
  uploadMaxBytes: 1,
});
await writeFile(path, `${JSON.stringify(openApiDocument(app), null, 2)}\n`);
const biome = createRequire(import.meta.url).resolve("@biomejs/biome/bin/biome");
execFileSync(process.execPath, [biome, "format", "--write", path], { stdio: "ignore" });
process.stdout.write(`wrote ${path}\n`);
