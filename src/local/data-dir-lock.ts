import { randomBytes } from "node:crypto";
import { linkSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RoadtollError } from "../errors.js";

export interface DataDirLock {
  release(): void;
}

/** A holder as its lock file names it: its pid, and when that process started (so a reused pid is not it). */
interface Holder {
  pid: number;
  started: string;
}

/** A lock file that names no holder (left by an older roadtoll) is stale only once it is this old. */
const UNNAMED_STALE_MS = 10_000;
/** A takeover takes milliseconds: a takeover file this old, whose holder is gone, was left by a crash. */
const TAKEOVER_STALE_MS = 10_000;

/**
 * An exclusive hold on a data directory for one process. s3rver and PGlite keep their files there and neither
 * expects a second writer: two runs on one directory crashed PGlite or lost rows.
 *
 * - The lock file appears whole or not at all: it is written under a name of its own, then hard-linked into
 *   place, which fails if a lock is there (so there is never an empty lock to misjudge).
 * - It names the holder's pid and that process's start time, so a pid the system gave to another process since
 *   is not taken for the holder.
 * - A lock whose holder is gone (killed, crashed) is taken over, since nothing else can release it; only one
 *   process at a time may judge and remove a stale lock (it holds `roadtoll.lock.takeover`), and it removes the
 *   lock only if it still names the holder it judged gone, so two processes never both hold the directory.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, "roadtoll.lock");
  const me: Holder = { pid: process.pid, started: startTime(process.pid) };
  for (let attempt = 0; attempt < 50; attempt++) {
    if (create(path, me)) {
      const release = () => {
        // Only this process's own lock: never one another process took over meanwhile.
        if (sameHolder(readHolder(path), me)) rmSync(path, { force: true });
      };
      // A process that exits without closing (an uncaught error) still lets go.
      process.once("exit", release);
      return {
        release: () => {
          process.removeListener("exit", release);
          release();
        },
      };
    }
    const holder = readHolder(path);
    if (holder === undefined) continue; // released meanwhile: try again
    if (holder !== "unnamed" && isAlive(holder)) {
      throw new RoadtollError(
        "DataDirInUseError",
        `${dataDir} is in use by another roadtoll run (pid ${holder.pid}); wait for it to finish, or give this ` +
          "run its own directory with --data-dir DIR",
        { where: { resource: path } },
      );
    }
    if (holder === "unnamed" && ageMs(path) < UNNAMED_STALE_MS) {
      throw new RoadtollError(
        "DataDirInUseError",
        `${dataDir} is in use by another roadtoll run (its lock names no process); wait for it to finish, or ` +
          "give this run its own directory with --data-dir DIR",
        { where: { resource: path } },
      );
    }
    takeOver(path, holder, me);
  }
  throw new RoadtollError("DataDirInUseError", `${dataDir}: cannot take the lock`, {
    where: { resource: path },
  });
}

/** Creates the lock naming `me`, whole, unless one is there. */
function create(path: string, me: Holder): boolean {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(temporary, `${me.pid} ${me.started}\n`);
  try {
    linkSync(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    rmSync(temporary, { force: true });
  }
}

/** Removes a stale lock, if this process may judge it now and it still names the holder judged gone. */
function takeOver(path: string, stale: Holder | "unnamed", me: Holder): void {
  const takeover = `${path}.takeover`;
  if (!create(takeover, me)) {
    const other = readHolder(takeover);
    // Another process is taking over: let it finish (the next attempt finds its lock, or none).
    if (
      other !== undefined &&
      !(other !== "unnamed" && !isAlive(other) && ageMs(takeover) > TAKEOVER_STALE_MS)
    ) {
      sleepMs(5);
      return;
    }
    rmSync(takeover, { force: true });
    return;
  }
  try {
    const now = readHolder(path);
    if (now !== undefined && (now === "unnamed" ? stale === "unnamed" : sameHolder(now, stale))) {
      rmSync(path, { force: true });
    }
  } finally {
    rmSync(takeover, { force: true });
  }
}

/** The lock's holder; "unnamed" for a file that names none; undefined when there is no lock. */
function readHolder(path: string): Holder | "unnamed" | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const [pid, started = ""] = text.trim().split(" ");
  const number = Number(pid);
  return Number.isSafeInteger(number) && number > 0 ? { pid: number, started } : "unnamed";
}

function sameHolder(a: Holder | "unnamed" | undefined, b: Holder | "unnamed"): boolean {
  return a !== undefined && a !== "unnamed" && b !== "unnamed" && a.pid === b.pid && a.started === b.started;
}

function isAlive(holder: Holder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  // The pid is taken; by the holder only if it started when the holder did (where the system says when).
  const started = startTime(holder.pid);
  return holder.started === "" || started === "" || started === holder.started;
}

/**
 * When a process started, as Linux's /proc/<pid>/stat says it (clock ticks since boot, field 22); empty where
 * there is no /proc, and then a live pid is taken for the holder.
 */
function startTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
