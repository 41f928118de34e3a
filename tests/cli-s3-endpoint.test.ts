import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client, ObjectStore } from "../src/adapters/object-store.js";
import { runCli } from "../src/cli/run.js";
import { renderResults } from "../src/cli/run-summary.js";
import { CURATED_REPORT_KEY, curatedFiguresKey } from "../src/pipeline/curated.js";
import type { DeathsSummary } from "../src/pipeline/deaths-step.js";
import { openTestDatabase, type TestDatabase } from "./support/database.js";
import { motoServerPath, type RunningMoto, startMotoS3 } from "./support/moto-s3.js";
import { skipNote, skipWithout } from "./support/tools.js";

// `npm start -- --s3-endpoint URL` on another S3-compatible server (moto_server, a separate process that starts
// with no bucket) finds the figures the default run, on the embedded s3rver, finds on the bundled samples.

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SAMPLES = join(ROOT, "samples");
const BUCKET = "roadtoll-local";
/** moto accepts any key pair; the CLI takes them from its environment, as the SDK would. */
const KEYS = { AWS_ACCESS_KEY_ID: "roadtoll-test", AWS_SECRET_ACCESS_KEY: "roadtoll-test-secret" };

const moto = motoServerPath();
let server: RunningMoto;
let s3: S3Client;
let directory: string;
const databases: TestDatabase[] = [];

beforeAll(async () => {
  if (!moto) return;
  directory = await mkdtemp(join(tmpdir(), "roadtoll-cli-s3-"));
  server = await startMotoS3();
  s3 = createS3Client(
    { bucket: BUCKET, region: "us-east-1", endpoint: server.endpoint, forcePathStyle: true },
    { accessKeyId: KEYS.AWS_ACCESS_KEY_ID, secretAccessKey: KEYS.AWS_SECRET_ACCESS_KEY },
  );
});

afterAll(async () => {
  s3?.destroy();
  for (const database of databases) await database.close();
  await server?.close();
  if (directory) await rm(directory, { recursive: true, force: true });
});

/** One CLI run with its own data directory, and its own database on DATABASE_URL's server when that is set. */
async function cli(name: string, argv: string[], env: NodeJS.ProcessEnv = {}) {
  let databaseArgs: string[] = [];
  if (process.env.DATABASE_URL) {
    const database = await openTestDatabase({ migrate: false });
    databases.push(database);
    databaseArgs = ["--database-url", database.url as string];
  }
  let stdout = "";
  let stderr = "";
  const code = await runCli([...argv, "--data-dir", join(directory, name), ...databaseArgs], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env,
    root: ROOT,
  });
  return { code, stdout, stderr };
}

/** What differs between two runs of the same input: run ids, executions, times, and the samples server's port. */
function normalise(text: string): string {
  return text
    .replace(/\d{8}T\d{9}Z-[0-9a-f]+/g, "<runId>")
    .replace(/runs\/[0-9a-f-]{36}\//g, "runs/<execution>/")
    .replace(/\/\d{13}-[0-9a-f-]{36}\.json$/, "/<started>-<execution>.json")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "<time>")
    .replace(/http:\/\/127\.0\.0\.1:\d+\//g, "http://<samples>/");
}

/** The run's objects in the bucket; change detection's own (state/) are left to its tests. */
async function keys(): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  return (listed.Contents ?? [])
    .map((object) => object.Key ?? "")
    .filter((key) => !key.startsWith("state/"))
    .sort();
}

const noMoto = !moto && "moto_server is not installed; pip install 'moto[server]'";
describe.skipIf(skipWithout(noMoto))(`npm start -- --s3-endpoint on moto_server${skipNote(noMoto)}`, () => {
  let embedded: { status: string; results: Array<{ summary: { key: string } }> };
  /** The first run on moto's output: its summaries' keys name objects on moto. */
  let onMoto: typeof embedded;

  it("gives the embedded s3rver run's results on the bundled samples, creating the bucket", async () => {
    const reference = await cli("s3rver", ["--json"]);
    expect(reference.code, reference.stderr).toBe(0);
    expect(reference.stderr).toMatch(/s3: s3rver at /);
    embedded = JSON.parse(reference.stdout);
    expect(embedded.status).toBe("succeeded");
    expect(embedded.results).toHaveLength(2);

    const viaMoto = await cli("moto", ["--json", "--s3-endpoint", server.endpoint], KEYS);
    expect(viaMoto.code, viaMoto.stderr).toBe(0);
    expect(viaMoto.stderr).toContain(`s3: ${server.endpoint}\n`);
    expect(viaMoto.stderr).toContain(`s3: bucket ${BUCKET} created\n`);
    expect(viaMoto.stderr).not.toMatch(/s3rver/);
    expect(normalise(viaMoto.stdout)).toEqual(normalise(reference.stdout));
    onMoto = JSON.parse(viaMoto.stdout);

    // The objects are on moto: raw (the bytes as served), clean and rejects, for each sample; and the curated zone
    // PublishCurated wrote after them, from the database.
    const all = await keys();
    expect(all.filter((key) => key.startsWith("curated/"))).toEqual([
      curatedFiguresKey("amostra_via_norte", "json"),
      curatedFiguresKey("amostra_via_sul_bom", "json"),
      curatedFiguresKey("amostra_via_norte", "csv"),
      curatedFiguresKey("amostra_via_sul_bom", "csv"),
      CURATED_REPORT_KEY,
    ]);
    const stored = all.filter((key) => !key.startsWith("curated/"));
    expect(stored.map((key) => normalise(key).replace(/\/[^/]+\.csv$/, "/"))).toEqual([
      "clean/amostra_via_norte/",
      "clean/amostra_via_sul_bom/",
      "raw/amostra_via_norte/",
      "raw/amostra_via_sul_bom/",
      "rejects/amostra_via_norte/",
      "rejects/amostra_via_sul_bom/",
      "run-index/amostra_via_norte/<started>-<execution>.json",
      "run-index/amostra_via_sul_bom/<started>-<execution>.json",
      "runs/<execution>/amostra_via_norte.json",
      "runs/<execution>/amostra_via_sul_bom.json",
    ]);
    const store = new ObjectStore(s3, BUCKET);
    for (const source of ["amostra_via_norte", "amostra_via_sul_bom"]) {
      const raw = stored.find((key) => key.startsWith(`raw/${source}/`)) as string;
      const chunks: Buffer[] = [];
      for await (const chunk of await store.read(raw)) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).equals(await readFile(join(SAMPLES, `${source}.csv`))), raw).toBe(true);
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: raw }));
      expect(head.Metadata?.["source-url"]).toMatch(
        new RegExp(`^http://127\\.0\\.0\\.1:\\d+/${source}\\.csv$`),
      );
    }
  });

  it("a second run reuses the bucket and prints the same results table", async () => {
    expect(embedded, "the first test ran").toBeDefined();
    const again = await cli("moto-again", ["--s3-endpoint", server.endpoint], KEYS);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`s3: bucket ${BUCKET} found\n`);
    // The table is made from the full summaries in the bucket: the first run's give the same one.
    const store = new ObjectStore(s3, BUCKET);
    const summaries: DeathsSummary[] = [];
    for (const { summary } of onMoto.results) {
      const chunks: Buffer[] = [];
      for await (const chunk of await store.read(summary.key)) chunks.push(chunk as Buffer);
      summaries.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as DeathsSummary);
    }
    expect(normalise(again.stdout)).toBe(
      normalise(
        `${renderResults(summaries)}\n\nreport: ${join(directory, "moto-again", "report.html")} (open it in a browser; also s3://${BUCKET}/${CURATED_REPORT_KEY})\n`,
      ),
    );
    expect(again.stdout).toMatch(/^amostra_via_norte +404 +3 +5 +108 +77 +11 +31 +14 +1$/m);
    // Two runs: six objects each, and two summaries and two run-index entries each, under each execution's name;
    // the curated zone's five objects, written again in place.
    expect(await keys()).toHaveLength(20 + 5);
  });

  it("without credentials, exits 1 at once with ConfigError naming the variables", async () => {
    // A real process with an environment of its own: no keys, no profile, and the instance metadata service
    // (a link-local address) switched off, so the SDK's chain ends at once, and never leaves the machine.
    const home = join(directory, "home");
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(ROOT, "src/cli/main.ts"),
        "--data-dir",
        join(directory, "no-keys"),
        "--s3-endpoint",
        server.endpoint,
      ],
      {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          PATH: process.env.PATH,
          HOME: home,
          AWS_CONFIG_FILE: join(home, "config"),
          AWS_SHARED_CREDENTIALS_FILE: join(home, "credentials"),
          AWS_EC2_METADATA_DISABLED: "true",
        },
      },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const [code] = (await once(child, "exit")) as [number | null];
    clearTimeout(timer);
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(
      /roadtoll: ConfigError: no AWS credentials for s3:\/\/roadtoll-local: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
    );
  }, 70_000);
});
