import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/run.js";
import { createEmbeddedDatabase } from "../src/db/embedded-database.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import { captureCliIo } from "./support/cli-io.js";
import { currentFigures } from "./support/database.js";
import { referenceDeaths } from "./support/reference.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SAMPLE = join(ROOT, "samples", "amostra_via_norte.csv");
const UPLOADS = ["s3", "roadtoll-local", "._S3rver_uploads"];

let dataDir: string;
let slow: Server;
let slowUrl: string;
let sample: Buffer;
let files: RunningFileServer;
const sampleLink = () => `${files.baseUrl}/amostra_via_norte.csv`;

/**
 * A link whose file (the sample's rows, repeated, about 12 MB) comes fast until it is most of the way through, then
 * a few bytes a second: a run reading it has multipart uploads under way when it is interrupted.
 */
async function startSlowServer(): Promise<Server> {
  const text = sample.toString("latin1");
  const [header, ...rows] = text.split("\n").filter((line) => line.trim() !== "");
  const body = Buffer.from(
    `${header}\n${Array.from({ length: 600 }, () => rows.join("\n")).join("\n")}\n`,
    "latin1",
  );
  const server = createServer((_, response) => {
    response.writeHead(200, { "content-type": "text/csv", "content-length": String(body.length) });
    const fast = body.length - 1000;
    response.write(body.subarray(0, fast));
    let at = fast;
    const drip = setInterval(() => {
      if (response.destroyed || at >= body.length) return clearInterval(drip);
      response.write(body.subarray(at, at + 1));
      at += 1;
    }, 500);
    response.on("close", () => clearInterval(drip));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

/** `roadtoll --link URL` as a user starts it, on the embedded S3 and PGlite: a real process. */
function startRun(): { child: ChildProcess; stderr: () => string } {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "--link", slowUrl, "--data-dir", dataDir],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DATABASE_URL: "" } },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.resume();
  return { child, stderr: () => stderr };
}

/** Resolves once an upload part is under way in the embedded S3 (the run is mid-file). */
async function uploadUnderWay(run: ReturnType<typeof startRun>): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    if ((await readdir(join(dataDir, ...UPLOADS)).catch(() => [])).length > 0) return;
    if (run.child.exitCode !== null) throw new Error(`the run ended before uploading:\n${run.stderr()}`);
    if (Date.now() > deadline) throw new Error(`no upload started:\n${run.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function figuresOfFirstRun(): Promise<Record<string, number>> {
  const { db } = await createEmbeddedDatabase(join(dataDir, "pglite"));
  try {
    return await currentFigures(db, "amostra_via_norte");
  } finally {
    await db.destroy();
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "roadtoll-interrupt-"));
  sample = await readFile(SAMPLE);
  slow = await startSlowServer();
  files = await startFileServer(join(ROOT, "samples"));
  slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/slow_source.csv`;
  // Figures from an earlier run, which no interruption may touch.
  const { io, out } = captureCliIo(ROOT);
  expect(await runCli(["--data-dir", dataDir, "--link", sampleLink()], io).catch(() => 1)).toBe(0);
  expect(out.stdout + out.stderr).not.toContain("FAILED");
}, 120_000);

afterAll(async () => {
  await files?.close();
  slow?.closeAllConnections();
  await new Promise((resolve) => slow?.close(resolve));
  await rm(dataDir, { recursive: true, force: true });
});

describe("an interrupted run", () => {
  it("on SIGINT, says so in one line, exits 130, frees the data directory and leaves no upload part", async () => {
    const run = startRun();
    await uploadUnderWay(run);
    run.child.kill("SIGINT");
    const [code] = (await once(run.child, "exit")) as [number | null];
    expect(code, run.stderr()).toBe(130);
    expect(run.stderr().match(/interrupted \(SIGINT\)/g)).toHaveLength(1);
    expect(existsSync(join(dataDir, "roadtoll.lock"))).toBe(false);
    expect(await readdir(join(dataDir, ...UPLOADS)).catch(() => [])).toEqual([]);
    expect(await figuresOfFirstRun()).toEqual(referenceDeaths(sample).byVehicle);
  }, 120_000);

  it("on SIGKILL, leaves what the next start clears: a stale lock taken over, upload parts removed", async () => {
    const run = startRun();
    await uploadUnderWay(run);
    run.child.kill("SIGKILL");
    await once(run.child, "exit");
    expect(existsSync(join(dataDir, "roadtoll.lock"))).toBe(true);
    expect((await readdir(join(dataDir, ...UPLOADS))).length).toBeGreaterThan(0);
    // The next run takes the directory over, clears the parts, and the earlier figures are intact.
    const { io, out } = captureCliIo(ROOT);
    expect(await runCli(["--data-dir", dataDir, "--link", sampleLink()], io), out.stderr).toBe(0);
    expect(out.stdout + out.stderr).toMatch(/removed \d+ unfinished upload\(s\) left by an interrupted run/);
    expect(existsSync(join(dataDir, "roadtoll.lock"))).toBe(false);
    expect(await readdir(join(dataDir, ...UPLOADS)).catch(() => [])).toEqual([]);
    expect(await figuresOfFirstRun()).toEqual(referenceDeaths(sample).byVehicle);
  }, 120_000);
});
