import { randomBytes, timingSafeEqual } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";

/** Where the process holding a data directory says how to read its database: `{url, token, pid}`, mode 0600. */
export const READER_FILE = "roadtoll.reader.json";

export interface Reader {
  url: string;
  token: string;
  pid: number;
}

/**
 * Lets `results`, `runs`, `sql` and `report` read the database of a run or `roadtoll serve` that holds the data
 * directory: PGlite takes one process, and one session, so a reader gets a snapshot instead. `GET /snapshot`
 * answers the database's files as a gzipped tarball (PGlite's dumpDataDir: read in one synchronous step, between
 * two statements, so it is what a crash at that instant would leave, which Postgres recovers to its last commit).
 * It listens on 127.0.0.1 and answers only the token written, readable by this user alone, in READER_FILE.
 */
export async function startSnapshotServer(
  pglite: PGlite,
  dataDir: string,
): Promise<{ close(): Promise<void> }> {
  const token = randomBytes(24).toString("hex");
  const expected = Buffer.from(`Bearer ${token}`);
  // Compared in constant time: another local user may time guesses at a loopback port.
  const authorised = (header: string | undefined) => {
    const given = Buffer.from(header ?? "");
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const server = createServer((request, response) => {
    if (request.method !== "GET" || request.url !== "/snapshot") {
      response.writeHead(404).end();
      return;
    }
    if (!authorised(request.headers.authorization)) {
      response.writeHead(403).end();
      return;
    }
    pglite.dumpDataDir("gzip").then(
      async (dump) => {
        response.writeHead(200, { "content-type": "application/gzip" });
        response.end(Buffer.from(await dump.arrayBuffer()));
      },
      () => response.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const file = join(dataDir, READER_FILE);
  const reader: Reader = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token,
    pid: process.pid,
  };
  writeFileSync(file, `${JSON.stringify(reader)}\n`, { mode: 0o600 });
  return {
    close: () =>
      new Promise((resolve) => {
        rmSync(file, { force: true });
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A snapshot of the database of the process holding `dataDir`, or undefined when it offers none. */
export async function fetchSnapshot(
  dataDir: string,
): Promise<{ bytes: Uint8Array; pid: number } | undefined> {
  let reader: Reader;
  try {
    reader = JSON.parse(await readFile(join(dataDir, READER_FILE), "utf8")) as Reader;
  } catch {
    return undefined;
  }
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(reader.url)) return undefined;
  const response = await fetch(`${reader.url}/snapshot`, {
    headers: { authorization: `Bearer ${reader.token}` },
  }).catch(() => undefined);
  if (!response?.ok) return undefined;
  return { bytes: new Uint8Array(await response.arrayBuffer()), pid: reader.pid };
}
