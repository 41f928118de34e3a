import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** Where the bundled samples are, under the repository root. */
export const SAMPLES_DIRECTORY = "samples";

/**
 * The SHA-256 of each bundled sample file (a few tens of KB each). The samples are told apart by their bytes,
 * not their names: a sample run under another name, or from an older data directory, is still one, and a real
 * file never is.
 */
export async function sampleDigests(root: string): Promise<string[]> {
  const directory = join(root, SAMPLES_DIRECTORY);
  const files = (await readdir(directory).catch(() => [])).filter((file) => file.endsWith(".csv")).sort();
  return Promise.all(
    files.map(async (file) =>
      createHash("sha256")
        .update(await readFile(join(directory, file)))
        .digest("hex"),
    ),
  );
}

/** What a read command says on stderr when it left the samples out. */
export function samplesLeftOutNote(command: string, leftOut: readonly string[]): string {
  return (
    `roadtoll ${command}: left out ${leftOut.length} bundled sample source${leftOut.length === 1 ? "" : "s"} ` +
    `(${leftOut.join(", ")}); --include-samples shows ${leftOut.length === 1 ? "it" : "them"}\n`
  );
}
