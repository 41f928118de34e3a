import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/run.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import { captureCliIo, cliOnTestDatabase } from "./support/cli-io.js";
import { openTestDatabase, type TestDatabase } from "./support/database.js";

/**
 * What a link is called decides whose figures it replaces: two links with one name in one run are bad usage, and a
 * --link whose URL link.yml lists (however it is spelt) takes link.yml's name, so the same source is not counted
 * under a second name.
 */

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SAMPLES = join(ROOT, "samples");
const FILE = "amostra_via_norte.csv";

let directory: string;
let files: RunningFileServer;
let database: TestDatabase | undefined;
const dataDir = () => join(directory, "data");
const { roadtoll, pipeline } = cliOnTestDatabase(ROOT, () => ({
  dataDir: dataDir(),
  databaseUrl: database?.url,
}));

const sources = async () => {
  const { code, stdout } = await roadtoll("results", "--format", "json");
  expect(code).toBe(0);
  return new Set((JSON.parse(stdout) as Array<{ source: string }>).map((row) => row.source));
};

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "roadtoll-link-names-"));
  files = await startFileServer(SAMPLES);
  if (process.env.DATABASE_URL) database = await openTestDatabase({ migrate: false });
});

afterAll(async () => {
  await files?.close();
  await database?.close();
  await rm(directory, { recursive: true, force: true });
});

describe("link names in one run", () => {
  it("refuses two links with one name as bad usage (exit 2), before anything runs", async () => {
    const both = await pipeline(
      "--link",
      `Same=${files.baseUrl}/${FILE}`,
      "--link",
      `Same=${files.baseUrl}/amostra_via_sul_bom.csv`,
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/two links are named "Same" in one run/);
    // Two unnamed links whose files have one name are refused the same way.
    const unnamed = await pipeline(
      "--link",
      `${files.baseUrl}/${FILE}`,
      "--link",
      `${files.baseUrl}/x/${FILE}`,
    );
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr).toMatch(/two links are named "amostra_via_norte" in one run/);
    expect(await sources()).toEqual(new Set());
  });

  it("gives a --link whose URL link.yml lists, spelt differently, link.yml's name", async () => {
    const linksFile = join(directory, "link.yml");
    await writeFile(linksFile, `Listed: "${files.baseUrl}/${FILE}"\n`);
    // The same URL with its scheme in capitals: link.yml's link all the same.
    const url = `${files.baseUrl.replace("http://", "HTTP://")}/${FILE}`;
    const { out, io } = captureCliIo(ROOT);
    const code = await runCli(
      ["--link", url, "--data-dir", dataDir(), ...(database?.url ? ["--database-url", database.url] : [])],
      { ...io, env: { LINKS_FILE: linksFile } },
    );
    expect(code, out.stderr).toBe(0);
    expect(await sources()).toEqual(new Set(["Listed"]));
  });
});
