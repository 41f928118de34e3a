import { describe, expect, it } from "vitest";
import { cleanKey, rawKey, rejectsKey, runIdFor, sourceFromUrl } from "./keys.js";

describe("object keys", () => {
  it("shares one run id, sortable by time, across the three objects of a run", () => {
    const runId = runIdFor(new Date("2026-11-25T12:34:56.789Z"), "a1b2c3");
    expect(runId).toBe("20261125T123456789Z-a1b2c3");
    expect([rawKey("Via_Sul", runId), cleanKey("Via_Sul", runId), rejectsKey("Via_Sul", runId)]).toEqual([
      "raw/Via_Sul/20261125T123456789Z-a1b2c3.csv",
      "clean/Via_Sul/20261125T123456789Z-a1b2c3.csv",
      "rejects/Via_Sul/20261125T123456789Z-a1b2c3.csv",
    ]);
  });

  it.each([
    [
      "https://dados.antt.gov.br/x/download/demostrativo_acidentes_viasul.csv",
      "demostrativo_acidentes_viasul",
    ],
    ["http://127.0.0.1:8080/VIA_SUL.csv?token=1", "VIA_SUL"],
    ["http://h/acidentes%202024 (1).csv", "acidentes_2024_1_"],
    ["http://h/", "download"],
    ["http://h/VIA_SUL.csv;jsessionid=S3CRET", "VIA_SUL"],
    ["http://h/;jsessionid=S3CRET", "download"],
    [`http://h/${"a".repeat(150)}.csv`, "a".repeat(100)],
  ])("names a bare URL's source after its file: %s → %s", (url, source) => {
    expect(sourceFromUrl(url)).toBe(source);
  });
});
