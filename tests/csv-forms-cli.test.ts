import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/run.js";
import { startLocalEnvironment } from "../src/local/environment.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import type { DeathsSummary } from "../src/pipeline/deaths-step.js";
import { reversed, type VariantOptions, writeVariant } from "./support/csv-variants.js";
import { openTestDatabase, type TestDatabase } from "./support/database.js";
import { referenceDeaths } from "./support/reference.js";

// The issue this guards: a quoted, comma-delimited or extra-column form of a valid file used to run to
// "succeeded" with every row rejected. Through `npm start`'s own code, every form must give the plain file's
// figures, rejects and reject lines.
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SAMPLE = join(ROOT, "samples", "amostra_via_norte.csv");

const FORMS: Record<string, VariantOptions> = {
  quoted: { delimiter: ";", eol: "\r\n", quote: "all", encoding: "latin1" },
  comma: { delimiter: ",", eol: "\n", quote: "minimal", encoding: "utf8", bom: true },
  extra: {
    delimiter: ";",
    eol: "\n",
    quote: "minimal",
    encoding: "latin1",
    // No line break in it, so reject lines stay those of the plain file.
    extra: { at: 3, name: "observação", value: (row) => `nota; "${row}"` },
    order: reversed,
  },
};

let directory: string;
let dataDir: string;
let files: RunningFileServer;
let database: TestDatabase | undefined;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "roadtoll-forms-"));
  dataDir = await mkdtemp(join(tmpdir(), "roadtoll-forms-data-"));
  const plain = await readFile(SAMPLE);
  await writeFile(join(directory, "plain.csv"), plain);
  const lines = plain.toString("latin1").split("\n");
  if (lines.at(-1) === "") lines.pop();
  const [header, ...rows] = lines.map((line) => line.split(";"));
  for (const [name, options] of Object.entries(FORMS)) {
    await writeFile(join(directory, `${name}.csv`), writeVariant(header ?? [], rows, options));
  }
  files = await startFileServer(directory);
  if (process.env.DATABASE_URL) database = await openTestDatabase({ migrate: false });
});

afterAll(async () => {
  await files?.close();
  await database?.close();
  await rm(directory, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

describe("npm start on one sample in several CSV forms", () => {
  it("succeeds with the plain file's figures for the quoted, comma and extra-column forms", async () => {
    let stdout = "";
    const names = ["plain", ...Object.keys(FORMS)];
    const code = await runCli(
      [
        "--json",
        ...names.flatMap((name) => ["--link", `${files.baseUrl}/${name}.csv`]),
        "--data-dir",
        dataDir,
        ...(database?.url ? ["--database-url", database.url] : []),
      ],
      {
        stdout: (text) => {
          stdout += text;
        },
        stderr: () => {},
        env: {},
        root: ROOT,
      },
    );
    expect(code).toBe(0);
    // The output names each link's full summary by key; the summaries are in the run's own bucket.
    const { results } = JSON.parse(stdout) as { results: Array<{ summary: { key: string } }> };
    const env = await startLocalEnvironment({
      bucket: "roadtoll-local",
      dataDir,
      ...(database?.url ? { databaseUrl: database.url } : {}),
    });
    const summaries: DeathsSummary[] = [];
    try {
      for (const { summary } of results) {
        const chunks: Buffer[] = [];
        for await (const chunk of await env.store.read(summary.key)) chunks.push(chunk as Buffer);
        summaries.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as DeathsSummary);
      }
    } finally {
      await env.close();
    }
    const figures = summaries.map((summary) => ({
      source: summary.source,
      rowsAccepted: summary.rowsAccepted,
      rowsRejected: summary.rowsRejected,
      totalDeaths: summary.totalDeaths,
      deathsByVehicle: summary.deathsByVehicle,
      worstRoads: summary.worstRoads,
      rejectLines: summary.rejects.sample.map(({ line, column }) => [line, column]),
    }));
    const expected = referenceDeaths(await readFile(SAMPLE));
    const plainFigures = figures.find((entry) => entry.source === "plain");
    expect(plainFigures?.totalDeaths).toBe(expected.totalDeaths);
    expect(plainFigures?.deathsByVehicle).toEqual(expected.byVehicle);
    expect(plainFigures?.rowsAccepted).toBeGreaterThan(400);
    for (const name of Object.keys(FORMS)) {
      expect(figures.find((entry) => entry.source === name)).toEqual({ ...plainFigures, source: name });
    }
  });
});
