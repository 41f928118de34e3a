import { describe, expect, it } from "vitest";
import type { RejectKindCount } from "../domain/rejects.js";
import { isRoadtollError, TRANSIENT_ERRORS } from "../errors.js";
import { checkRejectShare, DEFAULT_MAX_REJECT_SHARE } from "./reject-gate.js";

const FILE = "clean/VIA_SUL/20240101T000000Z-abc123.csv";
const REJECTS = "s3://bucket/rejects/VIA_SUL/20240101T000000Z-abc123.csv";

function gate(
  rowsRead: number,
  rowsRejected: number,
  maxShare = DEFAULT_MAX_REJECT_SHARE,
  kinds = [] as RejectKindCount[],
) {
  return () =>
    checkRejectShare(
      { rowsRead, rowsRejected, rejectKinds: kinds },
      { file: FILE, maxShare, rejectsUri: REJECTS },
    );
}

function thrown(run: () => void): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the gate to throw");
}

describe("the reject-share gate", () => {
  it("defaults to 5%", () => {
    expect(DEFAULT_MAX_REJECT_SHARE).toBe(0.05);
  });

  it("refuses a file whose every row was rejected, naming the share, the reasons and the rejects object", () => {
    const error = thrown(
      gate(9386, 9386, 0.05, [
        { column: "", kind: "wrong number of fields", count: 9380 },
        { column: "mortos", kind: "negative count", count: 6 },
      ]),
    );
    expect(isRoadtollError(error, "TooManyRejectsError")).toBe(true);
    expect(error.message).toBe(
      `${FILE}: 9,386 of 9,386 rows rejected (100.0%), more than the 5.0% allowed (MAX_REJECT_SHARE=0.05); ` +
        `most common: wrong number of fields ×9,380, mortos: negative count ×6; nothing written; ` +
        `rejects kept at ${REJECTS}`,
    );
    expect(error).toMatchObject({ where: { resource: FILE } });
  });

  it("is not transient, so the state machine does not retry it", () => {
    expect(TRANSIENT_ERRORS).not.toContain("TooManyRejectsError");
    expect(TRANSIENT_ERRORS).not.toContain("NoDataError");
  });

  it("lets a share at or under the limit through, and fails one just over it", () => {
    expect(gate(100, 5)).not.toThrow(); // exactly 5%
    expect(gate(1000, 49)).not.toThrow();
    expect(gate(1000, 51)).toThrow(/51 of 1,000 rows rejected \(5\.1%\), more than the 5\.0% allowed/);
  });

  it("shows enough decimals that a share just over the limit does not read as equal to it", () => {
    expect(thrown(gate(10_000, 501)).message).toContain("(5.01%), more than the 5.0% allowed");
    expect(thrown(gate(1000, 26, 0.025)).message).toContain("(2.6%), more than the 2.5% allowed");
    expect(thrown(gate(10_000, 26, 0.0025)).message).toContain("(0.26%), more than the 0.25% allowed");
  });

  it("with 0 allows no reject at all", () => {
    expect(gate(10, 0, 0)).not.toThrow();
    expect(gate(10, 1, 0)).toThrow(/1 of 10 rows rejected \(10\.0%\), more than the 0\.0% allowed/);
  });

  it("with 1 allows any share, but never a file with no usable row", () => {
    expect(gate(10, 9, 1)).not.toThrow();
    const error = thrown(gate(10, 10, 1, [{ column: "trecho", kind: "no road name", count: 10 }]));
    expect(error.name).toBe("TooManyRejectsError");
    expect(error.message).toContain(
      "10 of 10 rows rejected (100.0%), no row left to count, which always fails whatever MAX_REJECT_SHARE=1 allows",
    );
  });

  it("names the three most common kinds and sums up the rest", () => {
    const error = thrown(
      gate(10, 10, 0.05, [
        { column: "a", kind: "negative count", count: 4 },
        { column: "b", kind: "negative count", count: 3 },
        { column: "c", kind: "negative count", count: 1 },
        { column: "d", kind: "negative count", count: 1 },
        { column: "e", kind: "negative count", count: 1 },
      ]),
    );
    expect(error.message).toContain(
      "most common: a: negative count ×4, b: negative count ×3, c: negative count ×1, 2 other kinds ×2; nothing written",
    );
  });

  it("refuses a file with a header and no data row", () => {
    const error = thrown(gate(0, 0));
    expect(isRoadtollError(error, "NoDataError")).toBe(true);
    expect(error.message).toMatch(new RegExp(`^${FILE}: the file has a header but no data rows`));
    expect(error).toMatchObject({ where: { resource: FILE } });
  });

  it("refuses a limit outside 0..1 rather than reading it some way", () => {
    expect(gate(10, 0, 1.5)).toThrow(expect.objectContaining({ name: "ConfigError" }));
    expect(gate(10, 0, Number.NaN)).toThrow(expect.objectContaining({ name: "ConfigError" }));
  });
});
