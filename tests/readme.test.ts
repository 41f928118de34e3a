import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/**
 * The README's local shell blocks, as a reader pastes them on a fresh clone with no network: every line of the
 * Quick start, "Running the real links", "Looking at the results" and `serve` blocks that needs neither the
 * internet nor a name the reader fills in. Each line runs on its own, except the `serve` block, which runs as one
 * script (its lines share variables and the server it starts in the background). Lines left out, and why:
 * - `npm ci` and `npm test`: the clone this test runs in was installed and is being tested;
 * - a `--source`/`--all` link of link.yml (Via_Bahia …) or a `https://…` URL: the internet.
 */
const SKIPPED = [/^npm (ci|test)\b/, /Via_Bahia|--all\b|https:\/\/…|--link VIA_X/];

/**
 * A failing line stops the script, and whatever it started in the background is stopped with it. Job control
 * (-m) is on, as in the terminal a reader pastes into: `kill %1` then signals the job's whole process group
 * (npx, and the roadtoll under it), not only npx, which does not pass SIGTERM on.
 */
const SCRIPT_PREFIX =
  "set -meo pipefail; trap 'kill -- $(jobs -p | sed s/^/-/) 2>/dev/null || true' EXIT; trap 'exit 143' TERM\n";

function localCommands(readme: string): string[] {
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] ?? "");
  return blocks.flatMap((block) => {
    const lines = block
      .split("\n")
      .map((line) =>
        line
          .replace(/\s+#.*$/, "")
          .replace(/^npm ci && /, "")
          .trim(),
      )
      .filter((line) => line !== "" && !SKIPPED.some((rule) => rule.test(line)));
    return block.includes("roadtoll serve &") ? [SCRIPT_PREFIX + lines.join("\n")] : lines;
  });
}

describe("the README's local commands, pasted on a fresh copy with no network", () => {
  let copy: string;
  beforeAll(() => {
    copy = mkdtempSync(join(tmpdir(), "roadtoll-readme-"));
    // The files a clone has, timestamps kept (bin/roadtoll.mjs runs build/ while it is newer than src/).
    const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard"], {
      cwd: ROOT,
      encoding: "utf8",
    })
      .split("\n")
      .filter((file) => file !== "" && existsSync(join(ROOT, file)));
    for (const file of files) cpSync(join(ROOT, file), join(copy, file), { preserveTimestamps: true });
    if (existsSync(join(ROOT, "build")))
      cpSync(join(ROOT, "build"), join(copy, "build"), { recursive: true, preserveTimestamps: true });
    symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
  }, 60_000);
  afterAll(() => rmSync(copy, { recursive: true, force: true }));

  it("runs each, in order, with exit 0", () => {
    const commands = localCommands(readFileSync(join(ROOT, "README.md"), "utf8"));
    // The blocks this test covers are there, and it runs the pipeline before reading its results.
    expect(commands[0]).toBe("npm start");
    expect(commands).toContain("npx roadtoll results --include-samples");
    expect(commands).toContain("npx roadtoll report --out report.html");
    const serve = commands.find((command) => command.includes("npx roadtoll serve &"));
    expect(serve).toMatch(/--upload-file[\s\S]*SUCCEEDED[\s\S]*kill %1$/);
    for (const command of commands) {
      const result = spawnSync("bash", ["-c", command], {
        cwd: copy,
        encoding: "utf8",
        timeout: 120_000,
        // npm and npx from the Node running this test; no proxy, no registry: nothing may need the network.
        env: {
          ...process.env,
          PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
          DATABASE_URL: "",
          npm_config_offline: "true",
        },
      });
      expect(result.status, `${command}\n${result.stderr}`).toBe(0);
    }
    expect(existsSync(join(copy, "report.html"))).toBe(true);
  }, 300_000);
});
