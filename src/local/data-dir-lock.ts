import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { RoadtollError } from "../errors.js";

export interface DataDirLock {
  release(): void;
}

/**
 * An exclusive hold on a data directory for one process. s3rver and PGlite keep their files there and neither
 * expects a second writer: two runs on one directory crashed PGlite or lost rows. The lock file holds the
 * holder's pid; a lock whose process is gone (killed, crashed) is taken over, since nothing else can release it.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, "roadtoll.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(readFileSync(path, "utf8").trim());
      if (Number.isSafeInteger(holder) && holder > 0 && isAlive(holder)) {
        throw new RoadtollError(
          "DataDirInUseError",
          `${dataDir} is in use by another roadtoll run (pid ${holder}); wait for it to finish, or give this run ` +
            "its own directory with --data-dir DIR",
          { where: { file: path } },
        );
      }
      rmSync(path, { force: true });
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    const release = () => rmSync(path, { force: true });
    // A process that exits without closing (an uncaught error, Ctrl-C handled by Node) still lets go.
    process.once("exit", release);
    return {
      release: () => {
        process.removeListener("exit", release);
        release();
      },
    };
  }
  throw new RoadtollError("DataDirInUseError", `${dataDir}: cannot take the lock`, { where: { file: path } });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
