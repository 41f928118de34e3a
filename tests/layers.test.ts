import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DEPCRUISE = join(ROOT, "node_modules/dependency-cruiser/bin/dependency-cruiser.mjs");

/** The rule `npm run lint` runs, on a folder holding src/ and the project's tsconfig.json. */
function checkLayers(cwd: string): { status: number | null; output: string } {
  const result = spawnSync(
    process.execPath,
    [DEPCRUISE, "src", "--config", join(ROOT, ".dependency-cruiser.cjs"), "--output-type", "err"],
    { cwd, encoding: "utf8", timeout: 60_000 },
  );
  return { status: result.status, output: result.stdout + result.stderr };
}

describe("the layer rule (.dependency-cruiser.cjs)", () => {
  const fixture = mkdtempSync(join(tmpdir(), "roadtoll-layers-"));
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));

  function write(path: string, text: string): void {
    mkdirSync(dirname(join(fixture, path)), { recursive: true });
    writeFileSync(join(fixture, path), text);
  }

  it("passes on src/ as it is", () => {
    const { status, output } = checkLayers(ROOT);
    expect(output).toContain("no dependency violations found");
    expect(status).toBe(0);
  }, 60_000);

  it("fails on an upward import, an import cycle and a module outside every layer, naming each", () => {
    copyFileSync(join(ROOT, "tsconfig.json"), join(fixture, "tsconfig.json"));
    write("src/errors.ts", "export class RoadtollError extends Error {}\n");
    write(
      "src/domain/columns.ts",
      'import { RoadtollError } from "../errors.js";\nexport const E = RoadtollError;\n',
    );
    write("src/adapters/store.ts", 'import { E } from "../domain/columns.js";\nexport const store = E;\n');
    // Allowed so far: base ← domain ← adapters. Now the three faults:
    write(
      "src/domain/upward.ts",
      'import { store } from "../adapters/store.js";\nexport const up = store;\n',
    );
    write("src/db/a.ts", 'import { b } from "./b.js";\nexport const a = () => b;\n');
    write("src/db/b.ts", 'import { a } from "./a.js";\nexport const b = () => a;\n');
    write("src/stray.ts", 'import { E } from "./domain/columns.js";\nexport const stray = E;\n');
    const { status, output } = checkLayers(fixture);
    expect(status).not.toBe(0);
    expect(output).toContain("domain-imports-only-base: src/domain/upward.ts → src/adapters/store.ts");
    expect(output).toMatch(/no-circular: src\/db\/a\.ts → \s*src\/db\/b\.ts/);
    expect(output).toContain("every-module-in-a-layer: src/stray.ts → src/domain/columns.ts");
    // The allowed imports are not reported.
    expect(output).not.toContain("src/adapters/store.ts → src/domain/columns.ts");
    expect(output).not.toContain("src/domain/columns.ts → src/errors.ts");
  }, 60_000);
});
