import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderSample, SAMPLES, SAMPLES_DIR } from "../scripts/generate-samples.js";

describe("bundled samples", () => {
  it.each(SAMPLES.map((spec) => [spec.file, spec] as const))(
    "samples/%s is exactly what scripts/generate-samples.ts writes (run `npm run samples` after changing it)",
    async (file, spec) => {
      expect((await readFile(join(SAMPLES_DIR, file))).equals(renderSample(spec))).toBe(true);
    },
  );

  it("reproduce every quirk of the real files", async () => {
    const latin1 = await readFile(join(SAMPLES_DIR, "amostra_via_norte.csv"));
    const text = latin1.toString("latin1");
    expect(latin1.includes(Buffer.from("vítima", "latin1"))).toBe(true); // ISO-8859-1, not UTF-8
    expect(latin1.includes(Buffer.from("vítima", "utf8"))).toBe(false);
    expect(text).not.toContain("\r");
    expect(text).toMatch(/;Choque - Defensa, barreira ou "submarino";/); // unquoted field with quotes
    expect(text).toMatch(/;\d+,\d;/); // decimal-comma km
    expect(text).toMatch(/;;/); // empty counts
    expect(text).toMatch(/; +;/); // space-only counts
    expect(text).toMatch(/;-1;/); // negative count
    for (const spelling of [
      "BR-070/MT",
      "BR-70/MT",
      "BA-526",
      "526/BA",
      "Contorno",
      "CONTORNO",
      "BR-116/BA - Cont VC",
    ]) {
      expect(text).toContain(`;${spelling};`);
    }
    const bom = await readFile(join(SAMPLES_DIR, "amostra_via_sul_bom.csv"));
    expect([...bom.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  });
});
