import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ValidatedDefinitions } from "./state-machine.js";

/** Its name in the data directory. */
export const VALIDATED_DEFINITION_FILE = "state-machine-validated";

/**
 * The digest of the last definition found valid, in one small file of the data directory: every run after the
 * first skips validating an unchanged statemachine/pipeline.asl.json. A file that is missing or unreadable means
 * nothing is known, and the definition is validated.
 */
export function validatedDefinitionsIn(dataDir: string): ValidatedDefinitions {
  const path = join(dataDir, VALIDATED_DEFINITION_FILE);
  return {
    has: async (digest) => (await readFile(path, "utf8").catch(() => "")).trim() === digest,
    add: (digest) => writeFile(path, `${digest}\n`),
  };
}
