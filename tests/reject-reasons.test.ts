import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRejectReasons } from "../src/report/reject-reasons.js";
import { startTestStorage, type TestStorage } from "./support/storage.js";

let storage: TestStorage;

beforeAll(async () => {
  storage = await startTestStorage();
  await storage.store.writeText(
    "rejects/NEW/run.csv",
    [
      "line,column,kind,reason,row",
      "4,mortos,negative count,negative count -1,a",
      '5,,wrong number of fields,"expected 3 fields, found 2",b',
      "6,mortos,negative count,negative count -7,c",
      "7,mortos,negative count,negative count -2,d",
      "8,mortos,negative count,negative count -9,e",
      "",
    ].join("\n"),
    "text/csv",
  );
  // Written before migration 0009: no kind column.
  await storage.store.writeText(
    "rejects/OLD/run.csv",
    'line,column,reason,row\n4,mortos,negative count -1,a\n5,,"expected 3 fields, found 2",b\n6,mortos,negative count -1,c\n',
    "text/csv",
  );
});

afterAll(async () => {
  await storage?.close();
});

describe(`the report's reject reasons (${process.env.ROADTOLL_TEST_S3 ?? "s3rver"})`, () => {
  const recorded = [
    // More than the object holds: the counts are the recorded ones, not what a capped read of the object saw.
    { column: "mortos", kind: "negative count" as const, count: 40_000 },
    { column: "", kind: "wrong number of fields" as const, count: 1 },
  ];

  it("takes the counts from pipeline_runs and the first lines of each kind from the rejects object", async () => {
    const reasons = await readRejectReasons(
      { rejectsKey: "rejects/NEW/run.csv", rejectKinds: recorded },
      storage.store,
      "no store",
    );
    expect(reasons).toEqual({
      kinds: [
        { kind: "mortos: negative count", count: 40_000, lines: [4, 6, 7] },
        { kind: "wrong number of fields", count: 1, lines: [5] },
      ],
      counted: 40_001,
    });
  });

  it("keeps the recorded counts when the rejects object is gone, and says why there are no lines", async () => {
    const reasons = await readRejectReasons(
      { rejectsKey: "rejects/NEW/expired.csv", rejectKinds: recorded },
      storage.store,
      "no store",
    );
    expect(reasons).toMatchObject({
      kinds: [
        { kind: "mortos: negative count", count: 40_000, lines: [] },
        { kind: "wrong number of fields", count: 1, lines: [] },
      ],
      counted: 40_001,
      linesUnavailable: expect.stringContaining("rejects/NEW/expired.csv"),
    });
    const offline = await readRejectReasons(
      { rejectsKey: "rejects/NEW/run.csv", rejectKinds: recorded },
      undefined,
      "no store",
    );
    expect(offline).toMatchObject({ counted: 40_001, linesUnavailable: "no store" });
  });

  it("groups an older run's object by column and reason, as it has no kind column, and counts what it read", async () => {
    const reasons = await readRejectReasons(
      { rejectsKey: "rejects/OLD/run.csv", rejectKinds: null },
      storage.store,
      "no store",
    );
    expect(reasons).toEqual({
      kinds: [
        { kind: "mortos: negative count -1", count: 2, lines: [4, 6] },
        { kind: "expected 3 fields, found 2", count: 1, lines: [5] },
      ],
      counted: 3,
    });
    const capped = await readRejectReasons(
      { rejectsKey: "rejects/OLD/run.csv", rejectKinds: null },
      storage.store,
      "x",
      2,
    );
    expect(capped).toMatchObject({ counted: 2 });
  });

  it("marks an older run's reasons unavailable when its object cannot be read", async () => {
    const reasons = await readRejectReasons(
      { rejectsKey: "rejects/OLD/gone.csv", rejectKinds: null },
      storage.store,
      "x",
    );
    expect(reasons).toEqual({ unavailable: expect.stringContaining("rejects/OLD/gone.csv") });
  });
});
