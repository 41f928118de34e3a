import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
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

const goneProcess = () => spawnSync(process.execPath, ["-e", ""]).pid as number;

describe("lockDataDir", () => {
  it("holds the directory for one run: a second is refused, naming the holder's pid and --data-dir", () => {
    const dir = dataDir();
    const lock = lockDataDir(dir);
    expect(readFileSync(join(dir, "roadtoll.lock"), "utf8")).toMatch(new RegExp(`^${process.pid} \\d*\\n$`));
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

  it("takes over a lock left by a process that is gone, or by a live pid that is another process now", () => {
    const dir = dataDir();
    writeFileSync(join(dir, "roadtoll.lock"), `${goneProcess()} 123\n`);
    const lock = lockDataDir(dir);
    expect(readFileSync(join(dir, "roadtoll.lock"), "utf8")).toMatch(new RegExp(`^${process.pid} `));
    lock.release();
    // This process's pid, but a start time it never had: the pid was reused, the holder is gone.
    writeFileSync(join(dir, "roadtoll.lock"), `${process.pid} 1\n`);
    lockDataDir(dir).release();
  });

  it("takes a lock that names no process (an older roadtoll's, or garbage) as held until it is old", () => {
    const dir = dataDir();
    const path = join(dir, "roadtoll.lock");
    writeFileSync(path, "");
    expect(() => lockDataDir(dir)).toThrow(expect.objectContaining({ name: "DataDirInUseError" }));
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    lockDataDir(dir).release();
  });

  it("never lets two processes hold it: racing takeovers of a stale lock, many rounds", async () => {
    const dir = dataDir();
    const log = join(dir, "holders.log");
    const module = fileURLToPath(new URL("./data-dir-lock.ts", import.meta.url));
    // Each process waits for the round's start, tries once, and if it holds the lock, logs while it holds it.
    const script = `
      import { appendFileSync, existsSync } from "node:fs";
      import { lockDataDir } from ${JSON.stringify(module)};
      const [dir, log, rounds] = process.argv.slice(-3);
      const wait = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
      for (let round = 0; round < Number(rounds); round++) {
        while (!existsSync(dir + "/go-" + round)) {
          if (!existsSync(log + ".open")) process.exit(3);
          wait(2);
        }
        try {
          const lock = lockDataDir(dir);
          appendFileSync(log, "take " + round + " " + process.pid + "\\n");
          wait(5);
          appendFileSync(log, "give " + round + " " + process.pid + "\\n");
          lock.release();
        } catch (error) {
          if (error.name !== "DataDirInUseError") throw error;
        }
        appendFileSync(dir + "/done-" + round, "x");
      }`;
    const file = join(dir, "racer.mts");
    writeFileSync(file, script);
    const ROUNDS = 40;
    const RACERS = 5;
    writeFileSync(`${log}.open`, "");
    const children = Array.from({ length: RACERS }, () =>
      spawn(process.execPath, ["--import", "tsx", file, dir, log, String(ROUNDS)], { stdio: "inherit" }),
    );
    const exited = children.map((child) => new Promise((resolve) => child.on("exit", resolve)));
    const gone = goneProcess();
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // A stale lock, left by a process that is gone: every racer finds it and tries to take it over.
        writeFileSync(join(dir, "roadtoll.lock"), `${gone} 1\n`);
        writeFileSync(join(dir, `go-${round}`), "");
        const deadline = Date.now() + 30_000;
        while (
          !existsSync(join(dir, `done-${round}`)) ||
          readFileSync(join(dir, `done-${round}`), "utf8").length < RACERS
        ) {
          if (Date.now() > deadline) throw new Error(`round ${round} did not finish`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        rmSync(join(dir, "roadtoll.lock"), { force: true });
      }
    } finally {
      // A failed round leaves the others waiting for a round that never starts: they stop on this.
      rmSync(`${log}.open`, { force: true });
    }
    expect(await Promise.all(exited)).toEqual(Array(RACERS).fill(0));
    const lines = readFileSync(log, "utf8").trim().split("\n");
    let holding: string | undefined;
    let rounds = new Set<string>();
    for (const line of lines) {
      const [event, round, pid] = line.split(" ");
      if (event === "take") {
        expect(holding, `two holders at once: ${holding} and ${pid} (round ${round})`).toBeUndefined();
        holding = pid;
        rounds.add(round as string);
      } else {
        expect(holding).toBe(pid);
        holding = undefined;
      }
    }
    // Every round was taken over (the stale lock never blocked all of them).
    expect(rounds.size).toBe(ROUNDS);
    rounds = new Set();
  }, 120_000);
});
