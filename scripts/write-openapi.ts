// Writes docs/openapi.json from the API's zod schemas (src/api/openapi.ts); tests/api.test.ts checks it is current.
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { buildOpenApiDocument } from "../src/api/openapi.js";

const path = fileURLToPath(new URL("../docs/openapi.json", import.meta.url));
await writeFile(path, `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`);
process.stdout.write(`wrote ${path}\n`);
