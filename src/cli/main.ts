import "./check-node.js";
import { fileURLToPath } from "node:url";
import { runRoadtoll } from "./commands/index.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

try {
  process.exitCode = await runRoadtoll(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
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
