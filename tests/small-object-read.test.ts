import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateKey, stateObjectLookup } from "../src/pipeline/source-state.js";
import { startTestStorage, type TestStorage } from "./support/storage.js";

// ObjectStore.readText: the one capped read of a small object (link.yml in the bucket, state records, summaries).
describe("reading a small object whole, capped", () => {
  let storage: TestStorage;
  beforeAll(async () => {
    storage = await startTestStorage();
  }, 60_000);
  afterAll(() => storage?.close());

  it("reads what is there, and answers undefined for a key with no object", async () => {
    await storage.store.writeText("config/small.txt", "Via_Sul: https://h/s.csv\n", "text/plain");
    expect(await storage.store.readText("config/small.txt")).toBe("Via_Sul: https://h/s.csv\n");
    expect(await storage.store.readText("config/none.txt")).toBeUndefined();
  });

  it("refuses an object past the cap with a ConfigError naming it, or treats it as absent when asked", async () => {
    await storage.store.writeText("config/big.txt", "x".repeat(5_000), "text/plain");
    await expect(storage.store.readText("config/big.txt", { maxBytes: 4_096 })).rejects.toMatchObject({
      name: "ConfigError",
      message: expect.stringContaining(`s3://${storage.bucket}/config/big.txt is over 4096 bytes`),
    });
    expect(
      await storage.store.readText("config/big.txt", { maxBytes: 4_096, overCap: "absent" }),
    ).toBeUndefined();
    expect(await storage.store.readText("config/big.txt", { maxBytes: 5_000 })).toHaveLength(5_000);
  });

  it("ignores a state record over 64 KiB (the source is then read as new), and reads one under it", async () => {
    const state = {
      source: "Big",
      sha256: "a".repeat(64),
      runId: "r1",
      ingestedAt: "2026-01-01T00:00:00.000Z",
    };
    await storage.store.writeText(stateKey("Big"), JSON.stringify(state), "application/json");
    const lookup = stateObjectLookup(storage.store);
    expect(await lookup("Big")).toMatchObject({ source: "Big", runId: "r1" });
    await storage.store.writeText(
      stateKey("Big"),
      JSON.stringify({ ...state, padding: " ".repeat(70 * 1024) }),
      "application/json",
    );
    expect(await lookup("Big")).toBeUndefined();
  });
});
