import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { afterAll, describe, expect, it } from "vitest";
import { fetchSnapshot, READER_FILE, type Reader, startSnapshotServer } from "./snapshot-server.js";

describe("the snapshot a data directory's holder hands to readers", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "roadtoll-snapshot-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  // Only dumpDataDir is used: the bytes stand for PGlite's gzipped tarball.
  const pglite = {
    dumpDataDir: async () => new Blob([Uint8Array.from([31, 139, 8, 0])]),
  } as unknown as PGlite;

  it("answers the token in READER_FILE (this user's alone) and refuses any other, then removes the file", async () => {
    const server = await startSnapshotServer(pglite, dataDir);
    const file = join(dataDir, READER_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const reader = JSON.parse(readFileSync(file, "utf8")) as Reader;
    expect(await fetchSnapshot(dataDir)).toEqual({
      bytes: Uint8Array.from([31, 139, 8, 0]),
      pid: process.pid,
    });
    for (const authorization of [
      `Bearer ${"0".repeat(reader.token.length)}`,
      `Bearer ${reader.token}x`,
      "",
    ]) {
      const response = await fetch(`${reader.url}/snapshot`, { headers: { authorization } });
      expect(response.status, authorization).toBe(403);
    }
    expect((await fetch(`${reader.url}/other`)).status).toBe(404);
    await server.close();
    expect(() => statSync(file)).toThrow();
    expect(await fetchSnapshot(dataDir)).toBeUndefined();
  });
});
