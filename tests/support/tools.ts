import { execFileSync } from "node:child_process";
/**
 * Whether a test that needs an outside tool (cfn-lint, moto_server, Chromium, the aws CLI…) must be skipped:
 * `missing` says why the tool is not usable, or is empty when it is. A developer without the tool gets a skip
 * whose title says why; in CI (CI=true) a missing tool fails the test file at once, naming it, because CI must
 * run every test (.ci/run and .github/workflows/ci.yml install them all).
 */
export function skipWithout(missing: string | false | undefined): boolean {
  if (!missing) return false;
  if (process.env.CI && process.env.CI !== "false") {
    throw new Error(`CI=true and a test's tool is missing: ${missing}. CI runs every test; install it.`);
  }
  return true;
}

/** The title's note for such a test: empty when it runs. */
export function skipNote(missing: string | false | undefined): string {
  return missing ? ` (skipped: ${missing})` : "";
}

/** Chromium's executable ($CHROMIUM_PATH, else chromium on PATH), or undefined when there is none. */
export function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    return execFileSync("sh", ["-c", "command -v chromium || command -v chromium-browser"], {
      encoding: "utf8",
    }).trim();
  } catch {
    return undefined;
  }
}
