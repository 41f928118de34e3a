// Relative to src/cli/ and to build/cli/ alike.
import "../../scripts/check-node.mjs";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { runRoadtoll } from "./commands/index.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

// The reader went away (`roadtoll results | head`): stop quietly, as a command killed by SIGPIPE does.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

try {
  process.exitCode = await runRoadtoll(process.argv.slice(2), {
    // A full pipe or terminal: the next page waits until it drains.
    stdout: (text) => (process.stdout.write(text) ? undefined : once(process.stdout, "drain").then(() => {})),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    root,
  });
} catch (error) {
  process.stderr.write(
    `roadtoll: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`,
  );
  process.exitCode = 1;
}
