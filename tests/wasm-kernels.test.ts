import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script, without types
import { compiledModule, moduleFile, watFiles } from "../scripts/build-wasm.mjs";

describe("WebAssembly kernels", () => {
  const files = watFiles() as string[];

  it("are found under src/", () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)("%s matches the module generated from it (else run npm run build:wasm)", async (wat) => {
    expect(readFileSync(moduleFile(wat) as string, "utf8")).toBe(await compiledModule(wat));
  });
});
