import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runListSchema, runSchema, uploadResponseSchema } from "../src/api/schemas.js";
import { runCli } from "../src/cli/run.js";
import { createEmbeddedDatabase } from "../src/db/embedded-database.js";
import type { Database } from "../src/db/schema.js";
import { startFileServer } from "../src/local/file-server.js";
import { captureCliIo } from "./support/cli-io.js";
import { currentFigures, openTestDatabase, type TestDatabase } from "./support/database.js";
import { referenceDeaths } from "./support/reference.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SAMPLE = join(ROOT, "samples", "amostra_via_sul_bom.csv");
/** A source of this test's own: with DATABASE_URL, the database is this file's alone anyway. */
const SOURCE = "serve_via_sul";

let dataDir: string;
let database: TestDatabase | undefined;
let server: { child: ChildProcess; url: string; stderr: () => string } | undefined;

/** `roadtoll serve --port 0` as a user starts it: a real process, stopped with a signal. */
async function startServe(): Promise<NonNullable<typeof server>> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(ROOT, "src/cli/main.ts"),
      "serve",
      "--port",
      "0",
      "--data-dir",
      dataDir,
      ...(database?.url ? ["--database-url", database.url] : []),
    ],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DATABASE_URL: "" } },
  );
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${stderr}`)), 90_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once("exit", (code) => reject(new Error(`serve exited (${code}) before listening:\n${stderr}`)));
  });
  return { child, url, stderr: () => stderr };
}

async function api(path: string, init?: { method: string; body?: unknown }) {
  const response = await fetch(`${server?.url}${path}`, {
    method: init?.method ?? "GET",
    ...(init?.body === undefined
      ? {}
      : { body: JSON.stringify(init.body), headers: { "content-type": "application/json" } }),
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

/** Uploads the file the way a client of the API does: ask for a URL, PUT the bytes to it. */
async function upload(bytes: Buffer): Promise<string> {
  const issued = await api("/uploads", {
    method: "POST",
    body: { name: "VIA SUL (bom).csv", source: SOURCE, bytes: bytes.length },
  });
  expect(issued.status).toBe(201);
  const { uploadUrl, key } = uploadResponseSchema.parse(issued.body);
  const put = await fetch(uploadUrl, { method: "PUT", body: bytes });
  expect(put.status).toBe(200);
  return key;
}

/** Polls GET /runs?source= until `count` runs are listed and none is running. */
async function settledRuns(count: number) {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const listed = await api(`/runs?source=${SOURCE}`);
    expect(listed.status).toBe(200);
    const { runs } = runListSchema.parse(listed.body);
    if (runs.length >= count && runs.every((run) => run.status !== "RUNNING")) return runs;
    if (Date.now() > deadline)
      throw new Error(`runs never settled: ${JSON.stringify(runs)}\n${server?.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "roadtoll-serve-"));
  if (process.env.DATABASE_URL) database = await openTestDatabase({ migrate: false });
  const files = await startFileServer(join(ROOT, "samples"));
  // `roadtoll` (npm start) runs a sample on the data directory before serve starts on it.
  const cli = captureCliIo(ROOT);
  const code = await runCli(
    [
      "--link",
      `${files.baseUrl}/amostra_via_norte.csv`,
      "--data-dir",
      dataDir,
      ...(database?.url ? ["--database-url", database.url] : []),
    ],
    cli.io,
  );
  await files.close();
  expect(code, cli.out.stdout + cli.out.stderr).toBe(0);
  server = await startServe();
}, 180_000);

afterAll(async () => {
  if (server?.child.exitCode === null) server.child.kill("SIGKILL");
  await database?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe("roadtoll serve: upload, run, results", () => {
  let db: Kysely<Database>;

  it("lists and describes a run that `roadtoll` made on the same data directory", async () => {
    const listed = await api("/runs?source=amostra_via_norte");
    expect(listed.status).toBe(200);
    const { runs } = runListSchema.parse(listed.body);
    expect(runs.map((run) => run.status)).toEqual(["SUCCEEDED"]);
    const described = await api(`/runs/${runs[0]?.id}`);
    expect(described.status).toBe(200);
    const detail = runSchema.parse(described.body);
    expect(detail.stoppedAt).toBeDefined();
    expect(detail.output).toMatchObject({
      results: [{ status: "succeeded", link: { source: "amostra_via_norte" } }],
    });
  }, 30_000);

  it("runs an upload made through its presigned URL, and lists the run under its source", async () => {
    const bytes = await readFile(SAMPLE);
    const key = await upload(bytes);
    expect(key).toMatch(new RegExp(`^landing/${SOURCE}/\\d{8}T\\d{6}Z-[0-9a-f]{8}-VIA_SUL_bom_\\.csv$`));
    const [run] = await settledRuns(1);
    expect(run).toMatchObject({ source: SOURCE, status: "SUCCEEDED" });
    // serve logs the run's start, whatever started it, and its end.
    expect(server?.stderr()).toMatch(new RegExp(`run ${run?.id} for s3://roadtoll-local/landing/${SOURCE}/`));
    expect(server?.stderr()).toMatch(new RegExp(`run ${run?.id} started`));
    expect(server?.stderr()).toMatch(new RegExp(`run ${run?.id} SUCCEEDED in \\d+\\.\\d s`));
    const described = await api(`/runs/${run?.id}`);
    expect(described.status).toBe(200);
    const detail = runSchema.parse(described.body);
    expect(detail.stoppedAt).toBeDefined();
    const [result] = (detail.output as { results: Array<Record<string, unknown>> }).results;
    expect(result).toMatchObject({ status: "succeeded", link: { source: SOURCE } });
    // serve binds PublishCurated as AWS does: the run published curated/ (the report and two files per source).
    expect(detail.output).toMatchObject({ curated: { report: "curated/report.html", objects: 5 } });
  }, 120_000);

  it("reports the same file uploaded again as unchanged", async () => {
    await upload(await readFile(SAMPLE));
    const runs = await settledRuns(2);
    expect(runs.map((run) => run.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    // Newest first: the second upload's run leads.
    expect(Date.parse(runs[0]?.startedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(runs[1]?.startedAt ?? ""));
    const detail = runSchema.parse((await api(`/runs/${runs[0]?.id}`)).body);
    const [result] = (detail.output as { results: Array<Record<string, unknown>> }).results;
    expect(result).toMatchObject({ status: "unchanged", link: { source: SOURCE } });
    // An unchanged run publishes all the same.
    expect(detail.output).toMatchObject({ curated: { report: "curated/report.html", objects: 5 } });
  }, 120_000);

  it("lets results and runs read its database while it runs (a snapshot, from the process holding the directory)", async () => {
    const { runRoadtoll } = await import("../src/cli/commands/index.js");
    const { out, io } = captureCliIo(ROOT);
    const databaseArgs = database?.url ? ["--database-url", database.url] : [];
    const args = ["--data-dir", dataDir, "--source", SOURCE, "--format", "json", ...databaseArgs];
    expect(await runRoadtoll(["results", ...args], io), out.stderr).toBe(0);
    const rows = JSON.parse(out.stdout) as Array<{ vehicle: string; number_deaths: number }>;
    const byVehicle: Record<string, number> = {};
    for (const row of rows)
      byVehicle[row.vehicle] = (byVehicle[row.vehicle] ?? 0) + Number(row.number_deaths);
    expect(byVehicle).toEqual(referenceDeaths(await readFile(SAMPLE)).byVehicle);
    out.stdout = "";
    expect(await runRoadtoll(["runs", ...args], io), out.stderr).toBe(0);
    expect((JSON.parse(out.stdout) as Array<{ status: string }>).map((run) => run.status)).toEqual([
      "succeeded",
    ]);
    // Read-only: the snapshot is the reader's alone, and a write command still waits for the directory.
    if (!database) {
      expect(await runRoadtoll(["migrate", "--data-dir", dataDir], io)).toBe(1);
      expect(out.stderr).toContain("DataDirInUseError");
    }
  }, 60_000);

  it("stops on SIGTERM, exit code 0, and the figures in Postgres are the file's, written once", async () => {
    const child = server?.child as ChildProcess;
    child.kill("SIGTERM");
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code, server?.stderr()).toBe(0);
    // PGlite takes one process at a time: read once serve has stopped.
    const opened = database ? { db: database.db } : await createEmbeddedDatabase(join(dataDir, "pglite"));
    db = opened.db;
    try {
      expect(await currentFigures(db, SOURCE)).toEqual(referenceDeaths(await readFile(SAMPLE)).byVehicle);
      const runs = await db.selectFrom("pipeline_runs").selectAll().where("source", "=", SOURCE).execute();
      // One run recorded: the unchanged one wrote nothing.
      expect(runs).toHaveLength(1);
      expect(runs[0]?.origin).toMatch(/^s3:\/\/roadtoll-local\/landing\/serve_via_sul\//);
      const history = await db
        .selectFrom("deaths_by_vehicle_history")
        .select((eb) => eb.fn.countAll<string>().as("n"))
        .where("source", "=", SOURCE)
        .executeTakeFirstOrThrow();
      expect(Number(history.n)).toBe(0);
    } finally {
      if (!database) await db.destroy();
    }
  }, 60_000);
});
