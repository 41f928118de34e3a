import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { lockDataDir } from "./data-dir-lock.js";

const dirs: string[] = [];
const dataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "roadtoll-lock-"));
  dirs.push(dir);
  return dir;
};

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("lockDataDir", () => {
  it("holds the directory for one run: a second is refused, naming the holder's pid and --data-dir", () => {
    const dir = dataDir();
    const lock = lockDataDir(dir);
    expect(readFileSync(join(dir, "roadtoll.lock"), "utf8").trim()).toBe(String(process.pid));
    expect(() => lockDataDir(dir)).toThrow(
      expect.objectContaining({
        name: "DataDirInUseError",
        message: expect.stringMatching(
          new RegExp(`in use by another roadtoll run \\(pid ${process.pid}\\).*--data-dir`),
        ),
      }),
    );
    lock.release();
    expect(existsSync(join(dir, "roadtoll.lock"))).toBe(false);
    lockDataDir(dir).release();
  });

  it("takes over a lock left by a process that is gone", () => {
    const dir = dataDir();
    const gone = spawnSync(process.execPath, ["-e", ""]).pid;
    writeFileSync(join(dir, "roadtoll.lock"), `${gone}\n`);
    const lock = lockDataDir(dir);
    expect(readFileSync(join(dir, "roadtoll.lock"), "utf8").trim()).toBe(String(process.pid));
    lock.release();
  });
});
