// Writes docs/openapi.json from the API's route table (src/api/routes.ts); tests/api.test.ts checks it is current.
import { writeFile } from "node:fs/promises";
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
process.stdout.write(`wrote ${path}\n`);
