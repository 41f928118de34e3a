import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import type { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedDeathsEvent } from "../../scripts/seed-deaths-event.js";
import { createEmbeddedDatabase } from "../../src/db/embedded-database.js";
import { type RunningFileServer, startFileServer } from "../../src/local/file-server.js";
import { openTestDatabase, type TestDatabase } from "../support/database.js";
import { startTestStorage, type TestStorage } from "../support/storage.js";
import { freePort } from "../support/wire-database.js";
import { bundleLikeDockerfile, root, taskRootLikeImage } from "./bundle.js";

/**
 * What the Lambda base image does with `CMD ["index.handler"]`: import index.mjs and call its `handler`
 * export. Each bundle is built with its Dockerfile's own esbuild line, then imported from a scratch folder with
 * no node_modules beside it, configured only through the environment, and invoked with the events/ files.
 */
type Handler = (event: unknown) => Promise<unknown>;

const event = async (name: string) =>
  JSON.parse(await readFile(join(root, "events", name), "utf8")) as Record<string, unknown>;

let outDir: string;
let storage: TestStorage;
let files: RunningFileServer;
let databaseUrl: string;
let serverDatabase: TestDatabase | undefined;
let embedded: { pglite: PGlite; socket: PGLiteSocketServer } | undefined;

// Minified, the bundles are 1.0-1.8 MB (unminified they were 2.5-3.9 MB); PGlite's WebAssembly alone is 10 MB.
const MAX_BUNDLE_BYTES = 3_000_000;

async function importHandler(fn: string): Promise<Handler> {
  const bundle = bundleLikeDockerfile(fn, outDir);
  expect(statSync(bundle).size, `${fn}: index.mjs is minified`).toBeLessThan(MAX_BUNDLE_BYTES);
  const module = (await import(pathToFileURL(bundle).href)) as { handler?: Handler };
  expect(module.handler, `${fn}: index.mjs exports handler`).toBeTypeOf("function");
  return module.handler as Handler;
}

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), "roadtoll-bundles-"));
  // events/deaths.json names this bucket.
  [storage, files] = await Promise.all([
    startTestStorage("roadtoll-local"),
    startFileServer(join(root, "samples")),
  ]);
  if (process.env.DATABASE_URL) {
    serverDatabase = await openTestDatabase({ migrate: false });
    databaseUrl = serverDatabase.url as string;
  } else {
    // The bundles speak the Postgres wire protocol through `pg`; PGlite's socket server lets them reach the
    // embedded database that way.
    const { pglite } = await createEmbeddedDatabase();
    const port = await freePort();
    const socket = new PGLiteSocketServer({ db: pglite, host: "127.0.0.1", port, maxConnections: 8 });
    await socket.start();
    embedded = { pglite, socket };
    databaseUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  }
  // events/ingest.json asks for the link named Via_Costeira; here it points at a bundled sample.
  const linksFile = join(outDir, "link.yml");
  await writeFile(linksFile, `Via_Costeira: "${files.baseUrl}/amostra_via_norte.csv"\n`);
  Object.assign(process.env, {
    ROADTOLL_BUCKET: storage.bucket,
    S3_ENDPOINT: storage.endpoint,
    S3_FORCE_PATH_STYLE: "true",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    LINKS_FILE: linksFile,
    DATABASE_URL: databaseUrl,
    // The sample is served on loopback, which the Lambda refuses unless told (link-safety.ts).
    DOWNLOAD_ALLOW_PRIVATE_HOSTS: "true",
    // The API bundle starts nothing here; it needs the ARN at cold start.
    STATE_MACHINE_ARN: "arn:aws:states:us-east-1:123456789012:stateMachine:roadtoll-pipeline",
  });
});

afterAll(async () => {
  await embedded?.socket.stop();
  await embedded?.pglite.close();
  await serverDatabase?.close();
  await files?.close();
  await storage?.close();
  await rm(outDir, { recursive: true, force: true });
});

async function query<T>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

describe(`Lambda bundles invoked like the nodejs:22 base image (database: ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite over its socket server"})`, () => {
  it("migrate: events/migrate-direct.json creates the table", async () => {
    const migrate = await importHandler("migrate");
    await migrate(await event("migrate-direct.json"));
    const tables = await query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_name = 'deaths_by_vehicle'",
    );
    expect(tables).toEqual([{ table_name: "deaths_by_vehicle" }]);
  });

  it("ingest: events/ingest.json downloads the named link into S3", async () => {
    const ingest = await importHandler("ingest");
    const result = (await ingest(await event("ingest.json"))) as {
      key: string;
      rawKey: string;
      rows: number;
      source: string;
    };
    expect(result.source).toBe("Via_Costeira");
    expect(result.rows).toBe(404);
    expect(await storage.keys("clean/Via_Costeira/")).toEqual([result.key]);
    expect(
      (await storage.bytes(result.rawKey)).equals(
        await readFile(join(root, "samples", "amostra_via_norte.csv")),
      ),
    ).toBe(true);
  });

  it("ingest: lists the configured links for the schedule's {\"all\": true}, the bucket's config/link.yml first", async () => {
    const ingest = await importHandler("ingest");
    // No config/link.yml in the bucket yet: the link.yml shipped beside the bundle.
    await expect(ingest({ listLinks: true })).resolves.toEqual({ links: [{ source: "Via_Costeira" }] });
  });

  it("api: POST /uploads in an API Gateway event signs a URL that puts the file under landing/", async () => {
    const api = await importHandler("api");
    const request = await event("api-gateway-post-runs.json");
    const file = await readFile(join(root, "samples", "amostra_via_norte.csv"));
    const body = { name: "Via Costeira 2026.csv", source: "Via_Costeira", bytes: file.length };
    const response = (await api({
      ...request,
      routeKey: "POST /uploads",
      rawPath: "/uploads",
      requestContext: {
        ...(request.requestContext as Record<string, unknown>),
        routeKey: "POST /uploads",
        http: { ...((request.requestContext as Record<string, unknown>).http as object), path: "/uploads" },
      },
      body: Buffer.from(JSON.stringify(body)).toString("base64"),
    })) as { statusCode: number; body: string };
    expect(response.statusCode).toBe(201);
    const upload = JSON.parse(response.body) as { key: string; uploadUrl: string; source: string };
    expect(upload.source).toBe("Via_Costeira");
    expect(upload.key).toMatch(/^landing\/Via_Costeira\/.+\.csv$/);
    const put = await fetch(upload.uploadUrl, { method: "PUT", body: file });
    expect(put.status).toBe(200);
    expect((await storage.bytes(upload.key)).equals(file)).toBe(true);
  });

  it("deaths: events/deaths.json writes the snapshot it names", async () => {
    const deathsEvent = await event("deaths.json");
    // What `npm run events:seed` does to a fresh local S3: a clean object where the example event says it is.
    await seedDeathsEvent(storage.store);
    const deaths = await importHandler("deaths");
    const summary = (await deaths(deathsEvent)) as {
      rowsWritten: number;
      rowsRejected: number;
      createdAt: string;
    };
    expect(summary.rowsRejected).toBe(3);
    expect(summary.createdAt).toBe(deathsEvent.ingestedAt);
    const rows = await query<{ count: string }>(
      "select count(*) from deaths_by_vehicle where source = $1 and created_at = $2",
      ["Via_Costeira", deathsEvent.ingestedAt],
    );
    expect(Number(rows[0]?.count)).toBe(summary.rowsWritten);
    expect(summary.rowsWritten).toBeGreaterThan(0);
  });

  it("deaths: events/deaths-publish-curated.json publishes curated/ from the database (PublishCurated)", async () => {
    const deaths = await importHandler("deaths");
    // After the test above: Via_Costeira's snapshot is in the database, its rejects object in the bucket.
    await expect(deaths(await event("deaths-publish-curated.json"))).resolves.toEqual({
      report: "curated/report.html",
      objects: 3,
    });
    expect(await storage.keys("curated/")).toEqual([
      "curated/deaths_by_vehicle/source=Via_Costeira/deaths_by_vehicle.json",
      "curated/deaths_by_vehicle_csv/source=Via_Costeira/deaths_by_vehicle.csv",
      "curated/report.html",
    ]);
    const lines = (
      await storage.bytes("curated/deaths_by_vehicle/source=Via_Costeira/deaths_by_vehicle.json")
    )
      .toString("utf8")
      .trimEnd()
      .split("\n");
    const rows = await query<{ count: string }>("select count(*) from deaths_by_vehicle where source = $1", [
      "Via_Costeira",
    ]);
    expect(lines).toHaveLength(Number(rows[0]?.count));
    // The report explains the rejected rows from the rejects object, which the bundle read back.
    expect((await storage.bytes("curated/report.html")).toString("utf8")).toContain("negative count");
  });
});

/**
 * In a fresh `node` with only what the image has: the files its final stage copies into LAMBDA_TASK_ROOT and its
 * ENV (none of it NODE_OPTIONS: the bundle maps its own stacks). Imports index.mjs, invokes the handler with `event` and returns the
 * error it throws.
 */
async function invokeLikeImage(
  fn: string,
  event: unknown,
  options: { hideMapOnceLoaded?: boolean } = {},
): Promise<{ name: string; stack: string }> {
  const { taskRoot, env } = taskRootLikeImage(fn, outDir);
  const map = JSON.stringify(join(taskRoot, "index.mjs.map"));
  // Moved away after the import and back after the call: a map read at load would still name src/.
  const hide = options.hideMapOnceLoaded ? `renameSync(${map}, ${map} + ".away");` : "";
  const restore = options.hideMapOnceLoaded ? `renameSync(${map} + ".away", ${map});` : "";
  const script = `
    import { renameSync } from "node:fs";
    const { handler } = await import(${JSON.stringify(pathToFileURL(join(taskRoot, "index.mjs")).href)});
    ${hide}
    try { await handler(${JSON.stringify(event)}); console.log("\\n" + JSON.stringify(null)); }
    catch (error) { console.log("\\n" + JSON.stringify({ name: error.name, stack: error.stack })); }
    finally { ${restore} }`;
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
    cwd: taskRoot,
    // The test's own environment (bucket, endpoints, LINKS_FILE, DATABASE_URL), then the image's ENV.
    env: { ...inherited, LAMBDA_TASK_ROOT: taskRoot, ...env },
  });
  const thrown = JSON.parse(stdout.trim().split("\n").at(-1) as string) as {
    name: string;
    stack: string;
  } | null;
  expect(thrown, `${fn}: the handler rejects the event`).not.toBeNull();
  return thrown as { name: string; stack: string };
}

describe("stack traces from the minified bundles", () => {
  // A wrong event fails in our code before any S3 or database call. Minified, the frame would read
  // index.mjs:1:<column>; the shipped source map must turn it back into the TypeScript file and line.
  it.each([
    ["ingest", { url: 42 }, "InvalidEventError"],
    ["deaths", { key: "not-clean/x.csv" }, "InvalidEventError"],
    ["migrate", { action: "drop" }, "TypeError"],
  ])("%s: a thrown error's stack names the src/ file it came from", async (fn, invalidEvent, name) => {
    const error = await invokeLikeImage(fn, invalidEvent);
    expect(error.name).toBe(name);
    const top = error.stack.split("\n").find((line) => line.trimStart().startsWith("at ")) ?? "";
    expect(top, error.stack).toMatch(/\/src\/[\w/.-]+\.ts:\d+:\d+\)?$/);
    expect(error.stack).not.toContain("index.mjs");
  });

  it("reads the map when a stack is first formatted, not when the bundle loads", async () => {
    const error = await invokeLikeImage("ingest", { url: 42 }, { hideMapOnceLoaded: true });
    expect(error.name).toBe("InvalidEventError");
    expect(error.stack).toMatch(/index\.mjs:\d+:\d+/);
    expect(error.stack).not.toMatch(/\/src\/[\w/.-]+\.ts:/);
  });
});
