import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDownloader } from "../src/adapters/http-download.js";
import { linksFromStore } from "../src/adapters/links.js";
import { loadDownloadConfig } from "../src/config.js";
import { TRANSIENT_ERRORS } from "../src/errors.js";
import { createDeathsFunctionHandler } from "../src/handlers/deaths-function.js";
import { createIngestHandler } from "../src/handlers/ingest-handler.js";
import { createListLinksHandler } from "../src/handlers/list-links-handler.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import {
  DEATHS_FUNCTION_STATES,
  DEFINITION_PATH,
  deathsFunctionTasks,
  type ExecutionEvent,
  LOCAL_SUBSTITUTIONS,
  loadDefinition,
  prepareStateMachine,
  runStateMachine,
  substitutePlaceholders,
  type TaskHandler,
  taskStateNames,
} from "../src/local/state-machine.js";
import { VALIDATED_DEFINITION_FILE, validatedDefinitionsIn } from "../src/local/validated-definitions.js";
import { CURATED_REPORT_KEY } from "../src/pipeline/curated.js";
import type { DeathsSummary } from "../src/pipeline/deaths-step.js";
import { listRunsOfSource } from "../src/pipeline/run-index.js";
import { openTestDatabase, type TestDatabase } from "./support/database.js";
import { startTestServer, type TestServer } from "./support/http.js";
import { referenceDeaths } from "./support/reference.js";
import { startTestStorage, type TestStorage } from "./support/storage.js";

type Validator = (definition: unknown) => { isValid: boolean; errors: Array<{ message?: string }> };
const validateAsl = createRequire(import.meta.url)("asl-validator") as Validator;

const SAMPLES = fileURLToPath(new URL("../samples/", import.meta.url));

/** One link's entry in the execution output. */
interface LinkResult {
  link: { index: number; source?: string; url?: string };
  status: string;
  summary?: { key: string; rowsRead: number; rowsRejected: number; totalDeaths: number };
}

describe("statemachine/pipeline.asl.json", () => {
  it("passes asl-validator once its placeholders are substituted", async () => {
    const result = validateAsl(await loadDefinition());
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it("is checked for real: a dangling transition fails the validator", async () => {
    const definition = await loadDefinition();
    (definition.States.NormaliseInput as { Default: string }).Default = "Nowhere";
    expect(validateAsl(definition).isValid).toBe(false);
  });

  it("is validated once: a definition whose digest passed before is not validated again", async () => {
    const dir = await mkdtemp(join(tmpdir(), "roadtoll-validated-"));
    try {
      const path = join(dir, VALIDATED_DEFINITION_FILE);
      const { version } = JSON.parse(
        await readFile(join("node_modules", "aws-local-stepfunctions", "package.json"), "utf8"),
      ) as { version: string };
      const digest = (definition: unknown, under = version) =>
        createHash("sha256").update(`${under}\n`).update(JSON.stringify(definition)).digest("hex");
      // Digests of the definitions as loaded: the library adds to a definition it is given.
      const good = await loadDefinition();
      const goodDigest = digest(good);
      await prepareStateMachine(good, validatedDefinitionsIn(dir));
      expect(await readFile(path, "utf8")).toBe(`${goodDigest}\n`);

      const bad = await loadDefinition();
      (bad.States.NormaliseInput as { Default: string }).Default = "Nowhere";
      const badDigest = digest(bad);
      await expect(prepareStateMachine(structuredClone(bad))).rejects.toThrow();
      await expect(prepareStateMachine(structuredClone(bad), validatedDefinitionsIn(dir))).rejects.toThrow();
      // A definition that failed is not remembered: the file still names the good one.
      expect(await readFile(path, "utf8")).toBe(`${goodDigest}\n`);
      // Recorded under another version of the library, it is validated again.
      await validatedDefinitionsIn(dir).add(digest(bad, `${version}-other`));
      await expect(prepareStateMachine(structuredClone(bad), validatedDefinitionsIn(dir))).rejects.toThrow();
      // Only a known digest skips the check: with the bad one's recorded, the library is not asked to validate.
      await validatedDefinitionsIn(dir).add(badDigest);
      await expect(
        prepareStateMachine(structuredClone(bad), validatedDefinitionsIn(dir)),
      ).resolves.toBeDefined();
      // A missing file knows nothing.
      expect(await validatedDefinitionsIn(join(dir, "none")).has(goodDigest)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("retries exactly the errors the code declares transient, and Lambda's own service errors", async () => {
    const definition = await loadDefinition();
    const tasks = (definition.States.ProcessLinks as { ItemProcessor: { States: Record<string, unknown> } })
      .ItemProcessor.States;
    const retried = new Set<string>();
    const publish = definition.States.PublishCurated as unknown as Record<string, unknown>;
    // The curated publication meets the same transient failures as the deaths step (database, S3, Lambda).
    expect(publish.Retry).toEqual((tasks.ComputeDeaths as Record<string, unknown>).Retry);
    for (const task of [tasks.Ingest, tasks.ComputeDeaths, publish] as unknown[]) {
      const { Retry } = task as { Retry: Array<{ ErrorEquals: string[]; BackoffRate: number }> };
      for (const retrier of Retry) {
        expect(retrier.BackoffRate).toBeGreaterThan(1);
        for (const error of retrier.ErrorEquals) retried.add(error);
      }
    }
    const ours = [...retried].filter((error) => !error.startsWith("Lambda."));
    expect(ours.sort()).toEqual([...TRANSIENT_ERRORS].sort());
    expect(retried.has("States.ALL")).toBe(false);
  });

  it("binds every Task on the deaths function locally as AWS does: each state that names its ARN", async () => {
    const definition = JSON.parse(await readFile(DEFINITION_PATH, "utf8")) as {
      States: Record<string, unknown>;
    };
    const onDeaths: string[] = [];
    const visit = (states: Record<string, unknown>) => {
      for (const [name, state] of Object.entries(states)) {
        const value = state as { Resource?: string; ItemProcessor?: { States: Record<string, unknown> } };
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal SAM placeholder, not a template string.
        if (value.Resource === "${DeathsFunctionArn}") onDeaths.push(name);
        if (value.ItemProcessor) visit(value.ItemProcessor.States);
      }
    };
    visit(definition.States);
    expect(onDeaths.sort()).toEqual([...DEATHS_FUNCTION_STATES].sort());
    expect(taskStateNames(definition).sort()).toEqual([
      "ComputeDeaths",
      "Ingest",
      "ListLinks",
      "PublishCurated",
    ]);
  });

  it("fails a Task state the caller bound no handler to at once, naming it, rather than calling AWS", async () => {
    const outcome = await runStateMachine({ input: { links: [{ source: "Unbound" }] }, tasks: {} });
    expect(outcome).toMatchObject({ status: "FAILED", error: "LinkFailed" });
    expect((outcome as { cause: string }).cause).toContain(
      "the local runner has no handler for Task state Ingest",
    );
  });

  it("uses exactly the placeholders the local runner (and SAM) substitute", async () => {
    const text = await readFile(DEFINITION_PATH, "utf8");
    const used = new Set([...text.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((match) => match[1]));
    expect([...used].sort()).toEqual(Object.keys(LOCAL_SUBSTITUTIONS).sort());
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal SAM placeholder, not a template string.
    expect(() => substitutePlaceholders("${Unknown}", LOCAL_SUBSTITUTIONS)).toThrow(
      /no substitution for placeholder\(s\): Unknown/,
    );
  });
});

describe(`pipeline execution (database: ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"})`, () => {
  let storage: TestStorage;
  let database: TestDatabase;
  let files: RunningFileServer;
  let flaky: TestServer;
  let flakyFailures = 0;
  let tasks: Record<string, TaskHandler>;

  beforeAll(async () => {
    [storage, database, files] = await Promise.all([
      startTestStorage(),
      openTestDatabase(),
      startFileServer(SAMPLES),
    ]);
    const sample = await readFile(`${SAMPLES}amostra_via_sul_bom.csv`);
    flaky = await startTestServer((_request, response) => {
      if (flakyFailures-- > 0) response.writeHead(503).end();
      else response.writeHead(200).end(sample);
    });
    tasks = {
      Ingest: createIngestHandler({
        store: storage.ingest.store,
        download: createDownloader({ ...loadDownloadConfig({}), addressPolicy: "loopback" }),
        links: { Sul: `${files.baseUrl}/amostra_via_sul_bom.csv` },
      }),
      // These tests run the same samples under many source names; tests/duplicates.test.ts covers refusing that.
      ...deathsFunctionTasks(
        createDeathsFunctionHandler({ store: storage.deaths.store, db: database.db, allowDuplicates: true }),
      ),
    };
  });

  afterAll(async () => {
    await files?.close();
    await flaky?.close();
    await database?.close();
    await storage?.close();
  });

  /** A link's full summary, which the deaths step wrote to the bucket and the output names by key. */
  const fullSummary = async (key: string | undefined): Promise<DeathsSummary> =>
    JSON.parse((await storage.bytes(key ?? "(no key)")).toString("utf8")) as DeathsSummary;

  const run = (input: unknown, events: ExecutionEvent[] = []) =>
    runStateMachine({ input, tasks, retryIntervalMs: 0, onEvent: (event) => events.push(event) });

  it("runs a list of links through both steps and returns one readable summary per link", async () => {
    const events: ExecutionEvent[] = [];
    const outcome = await run(
      { links: [{ url: `${files.baseUrl}/amostra_via_norte.csv`, source: "Norte" }, { source: "Sul" }] },
      events,
    );
    expect(outcome.status).toBe("SUCCEEDED");
    const output = (
      outcome as {
        output: { status: string; results: LinkResult[]; curated: { report: string; objects: number } };
      }
    ).output;
    expect(output.status).toBe("succeeded");
    expect(output.results.map((result) => [result.status, result.link.source])).toEqual([
      ["succeeded", "Norte"],
      ["succeeded", "Sul"],
    ]);
    // Then curated/ was published once, from every source in the database: the report and two files a source.
    expect(output.curated).toEqual({ report: CURATED_REPORT_KEY, objects: 1 + 2 * 2 });
    const expected = referenceDeaths(await readFile(`${SAMPLES}amostra_via_norte.csv`));
    // The output keeps counts and the key of each link's full summary, which is in the bucket.
    const norte = output.results[0]?.summary;
    expect(norte).toEqual({
      // The local runner's execution ARN ends in a UUID, its name.
      key: expect.stringMatching(/^runs\/[0-9a-f-]{36}\/Norte\.json$/),
      rowsRead: expected.accepted + expected.rejectedLines.length,
      rowsRejected: expected.rejectedLines.length,
      totalDeaths: expected.totalDeaths,
    });
    const summary = await fullSummary(norte?.key);
    expect(summary.deathsByVehicle).toEqual(expected.byVehicle);
    expect(summary.url).toBe(`${files.baseUrl}/amostra_via_norte.csv`);
    // Step Functions refuses payloads over 256 KiB; ours stay tiny whatever the file size.
    expect(JSON.stringify(output).length).toBeLessThan(16 * 1024);

    const sources = await database.db.selectFrom("deaths_by_vehicle").select("source").distinct().execute();
    expect(sources.map((row) => row.source).sort()).toEqual(["Norte", "Sul"]);
    const entered = events.filter((event) => event.type === "entered").map((event) => event.state);
    expect(entered.filter((state) => state === "Ingest")).toHaveLength(2);
    expect(entered.filter((state) => state === "ComputeDeaths")).toHaveLength(2);
    expect(entered.filter((state) => state === "PublishCurated")).toHaveLength(1);
    // After every link, never during: the last task of the execution.
    expect(
      entered.filter((state) => ["Ingest", "ComputeDeaths", "PublishCurated"].includes(state)).at(-1),
    ).toBe("PublishCurated");
  });

  it("hands both functions the execution id, for their logs' correlation id", async () => {
    const seen: Record<"Ingest" | "ComputeDeaths" | "PublishCurated", unknown[]> = {
      Ingest: [],
      ComputeDeaths: [],
      PublishCurated: [],
    };
    const recording = Object.fromEntries(
      Object.entries(tasks).map(([state, task]) => [
        state,
        async (input: unknown) => {
          seen[state as keyof typeof seen].push(input);
          return task(input);
        },
      ]),
    );
    const executionId = "arn:aws:states:us-east-1:123456789012:execution:roadtoll-pipeline:run-1";
    const outcome = await runStateMachine({
      input: { links: [{ source: "Sul" }, { url: `${files.baseUrl}/amostra_via_norte.csv` }] },
      tasks: recording,
      retryIntervalMs: 0,
      executionId,
    });
    expect(outcome.status).toBe("SUCCEEDED");
    // Two links run at once, so in either order.
    expect(seen.Ingest).toHaveLength(2);
    const started = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(seen.Ingest).toEqual(
      expect.arrayContaining([
        { link: { source: "Sul" }, execution: executionId, started },
        { link: { url: `${files.baseUrl}/amostra_via_norte.csv` }, execution: executionId, started },
      ]),
    );
    // Both links' runs are listed under their sources, named after the execution (src/pipeline/run-index.ts),
    // newest first (earlier tests ran Sul too).
    const startedAt = (seen.Ingest[0] as { started: string }).started;
    for (const source of ["Sul", "amostra_via_norte"]) {
      const [newest] = await listRunsOfSource(storage.api.store, source, 10);
      expect(newest).toEqual({ id: "run-1", source, startedAt: new Date(startedAt).toISOString() });
    }
    expect(seen.ComputeDeaths).toHaveLength(2);
    for (const input of seen.ComputeDeaths) expect(input).toMatchObject({ execution: executionId });
    expect(seen.PublishCurated).toEqual([{ publishCurated: { execution: executionId } }]);
    // The execution id goes to the functions only: the output stays as it was.
    expect(JSON.stringify(outcome)).not.toContain(executionId);
  });

  it("makes up an ARN-shaped execution id when the caller gives none (what Step Functions would)", async () => {
    const seen: unknown[] = [];
    const outcome = await runStateMachine({
      input: { source: "Sul" },
      tasks: {
        ...tasks,
        Ingest: async (input) => {
          seen.push(input);
          return (tasks.Ingest as TaskHandler)(input);
        },
      },
      retryIntervalMs: 0,
    });
    expect(outcome.status).toBe("SUCCEEDED");
    expect(seen).toEqual([
      {
        link: { source: "Sul" },
        execution: expect.stringMatching(
          /^arn:aws:states:us-east-1:123456789012:execution:roadtoll-local:[0-9a-f-]{36}$/,
        ),
        started: expect.any(String),
      },
    ]);
  });

  it("accepts a single link as well as a list", async () => {
    const outcome = await run({ source: "Sul" });
    expect(outcome.status).toBe("SUCCEEDED");
    expect((outcome as { output: { results: unknown[] } }).output.results).toHaveLength(1);
  });

  it("never reports a failed link as success, while the other links still complete", async () => {
    const events: ExecutionEvent[] = [];
    const outcome = await run(
      {
        links: [
          { url: `${files.baseUrl}/gone.csv`, source: "Gone" },
          { url: `${files.baseUrl}/amostra_via_norte.csv`, source: "StillNorte" },
        ],
      },
      events,
    );
    expect(outcome).toMatchObject({ status: "FAILED", error: "LinkFailed" });
    const cause = JSON.parse((outcome as { cause: string }).cause) as Array<Record<string, unknown>>;
    expect(cause).toEqual([
      {
        link: { index: 0 },
        status: "failed",
        error: "DownloadError",
        cause: `${files.baseUrl}/gone.csv: server answered HTTP 404`,
      },
      { link: { index: 1, source: "StillNorte" }, status: "succeeded" },
    ]);
    // A 404 is not transient: no retry.
    expect(events.filter((event) => event.type === "retried")).toEqual([]);
    // The link that succeeded is published all the same: PublishCurated runs whatever the links did.
    expect(events.some((event) => event.state === "PublishCurated" && event.type === "exited")).toBe(true);
    const written = await database.db
      .selectFrom("deaths_by_vehicle")
      .select("source")
      .where("source", "=", "StillNorte")
      .execute();
    expect(written.length).toBeGreaterThan(0);
  });

  it("never echoes a link as given: tokens stay out of the output, the failure cause and every event", async () => {
    const secret = "s3cr3t-t0ken-9f2c";
    const events: ExecutionEvent[] = [];
    const good = await run(
      { url: `${files.baseUrl}/amostra_via_norte.csv?token=${secret}`, source: "Tok" },
      events,
    );
    expect(good.status).toBe("SUCCEEDED");
    const bad = await run(
      {
        links: [
          { url: `${files.baseUrl}/gone.csv?sig=${secret}` },
          { url: `${files.baseUrl}/amostra_via_norte.csv?X-Amz-Signature=${secret}`, source: "Tok2" },
        ],
      },
      events,
    );
    expect(bad).toMatchObject({ status: "FAILED", error: "LinkFailed" });
    const shown = JSON.stringify([good, bad, events]);
    expect(shown).not.toContain(secret);
    // The redacted form is still there, so a person can tell which link it was: in a failure's message, and in a
    // succeeded link's summary object.
    expect(shown).toContain(`${files.baseUrl}/gone.csv?sig=***`);
    const tok = (good as { output: { results: LinkResult[] } }).output.results[0]?.summary?.key;
    const summary = JSON.stringify(await fullSummary(tok));
    expect(summary).toContain(`${files.baseUrl}/amostra_via_norte.csv?token=***`);
    expect(summary).not.toContain(secret);
  });

  it("gives a gzip download (Content-Encoding or a .csv.gz file) the same figures as the plain file", async () => {
    const sample = await readFile(`${SAMPLES}amostra_via_norte.csv`);
    const server = await startTestServer((request, response) => {
      if (request.url === "/encoded.csv") {
        response.writeHead(200, { "content-encoding": "gzip" }).end(gzipSync(sample));
      } else response.writeHead(200, { "content-type": "application/gzip" }).end(gzipSync(sample));
    });
    try {
      const outcome = await run({
        links: [
          { url: server.url("/encoded.csv"), source: "Encoded" },
          { url: server.url("/file.csv.gz"), source: "Gzipped" },
        ],
      });
      expect(outcome.status).toBe("SUCCEEDED");
      const results = (outcome as { output: { results: LinkResult[] } }).output.results;
      const expected = referenceDeaths(sample);
      const summaries = await Promise.all(results.map((result) => fullSummary(result.summary?.key)));
      expect(summaries.map((summary) => summary.deathsByVehicle)).toEqual([
        expected.byVehicle,
        expected.byVehicle,
      ]);
    } finally {
      await server.close();
    }
  });

  it('runs every configured link for {"all": true}, the links read from config/link.yml in the bucket', async () => {
    await storage.s3.send(
      new PutObjectCommand({
        Bucket: storage.bucket,
        Key: "config/link.yml",
        Body: `Norte: "${files.baseUrl}/amostra_via_norte.csv"\nSul: "${files.baseUrl}/amostra_via_sul_bom.csv"\n`,
      }),
    );
    const links = linksFromStore(storage.ingest.store, "config/link.yml", "/nonexistent/link.yml");
    const download = createDownloader({ ...loadDownloadConfig({}), addressPolicy: "loopback" });
    const outcome = await runStateMachine({
      input: { all: true },
      tasks: {
        ...tasks,
        // As src/lambda/ingest.ts composes them: both tasks read the same links.
        Ingest: async (event) =>
          createIngestHandler({ store: storage.ingest.store, download, links: await links() })(event),
        ListLinks: createListLinksHandler(links),
      },
      retryIntervalMs: 0,
    });
    expect(outcome.status).toBe("SUCCEEDED");
    const results = (outcome as { output: { results: Array<{ link: { source: string } }> } }).output.results;
    expect(results.map((result) => result.link.source)).toEqual(["Norte", "Sul"]);
  });

  it('fails {"all": true} when no link is configured, rather than succeeding with nothing run', async () => {
    const outcome = await runStateMachine({
      input: { all: true },
      tasks: { ...tasks, ListLinks: createListLinksHandler(async () => ({})) },
      retryIntervalMs: 0,
    });
    expect(outcome).toMatchObject({ status: "FAILED", error: "ConfigError" });
  });

  it("keeps a failure message with quotes intact in each link's result, which npm start prints", async () => {
    const header = "trecho;automovel;bicicleta;caminhao;moto;onibus;mortos;mortos\n";
    const server = await startTestServer((_request, response) => response.writeHead(200).end(header));
    try {
      const outcome = await run({ url: server.url("/twice.csv"), source: "Twice" });
      expect(outcome).toMatchObject({ status: "FAILED", error: "LinkFailed" });
      // aws-local-stepfunctions drops the backslashes States.JsonToString puts before those quotes, so the cause
      // string is not JSON here; the Map's own output, which the runner keeps, is.
      expect((outcome as { results?: unknown[] }).results).toEqual([
        {
          link: { index: 0 },
          status: "failed",
          error: "HeaderError",
          cause: expect.stringContaining('header has column "mortos" twice'),
        },
      ]);
    } finally {
      await server.close();
    }
  });

  it("retries a transient download failure and then succeeds", async () => {
    flakyFailures = 2;
    const events: ExecutionEvent[] = [];
    const outcome = await run({ url: flaky.url("/sul.csv"), source: "Flaky" }, events);
    expect(outcome.status).toBe("SUCCEEDED");
    expect(events.filter((event) => event.type === "retried").map((event) => event.state)).toEqual([
      "Ingest",
      "Ingest",
    ]);
  });

  it("gives up after the retry budget and fails the execution with the named error", async () => {
    flakyFailures = 100;
    const events: ExecutionEvent[] = [];
    const outcome = await run({ url: flaky.url("/sul.csv"), source: "Down" }, events);
    expect(outcome).toMatchObject({ status: "FAILED", error: "LinkFailed" });
    expect((outcome as { cause: string }).cause).toContain('"error":"DownloadUnavailableError"');
    expect(events.filter((event) => event.type === "retried")).toHaveLength(3);
    flakyFailures = 0;
  });

  it("fails a link whose event is invalid without calling the deaths step", async () => {
    const events: ExecutionEvent[] = [];
    const outcome = await run({ links: [{ url: "not a url" }] }, events);
    expect(outcome).toMatchObject({ status: "FAILED", error: "LinkFailed" });
    expect((outcome as { cause: string }).cause).toContain("InvalidEventError");
    expect(events.some((event) => event.state === "ComputeDeaths")).toBe(false);
  });

  it("fails the execution when a link's rows are all rejected, without retrying, writing or calling it a success", async () => {
    // A readable file whose every row has a negative death count: ingest accepts it, the deaths step must not.
    const junk =
      "trecho;automovel;bicicleta;caminhao;moto;onibus;mortos\nBR-101/SC;1;;;;;-1\nBR-101/SC;;1;;;;-2\n";
    const server = await startTestServer((_request, response) => response.writeHead(200).end(junk));
    try {
      const events: ExecutionEvent[] = [];
      const outcome = await run(
        { links: [{ url: server.url("/junk.csv"), source: "Junk" }, { source: "Sul" }] },
        events,
      );
      expect(outcome).toMatchObject({ status: "FAILED", error: "LinkFailed" });
      const cause = JSON.parse((outcome as { cause: string }).cause) as Array<Record<string, string>>;
      expect(cause[0]).toMatchObject({
        link: { index: 0, source: "Junk", url: server.url("/junk.csv") },
        status: "failed",
        error: "TooManyRejectsError",
      });
      expect(cause[0]?.cause).toMatch(
        /^clean\/Junk\/[^:]+\.csv: 2 of 2 rows rejected \(100\.0%\), more than the 5\.0% allowed .*; most common: mortos: negative count ×2; nothing written; rejects kept at s3:\/\/roadtoll-test\/rejects\/Junk\//,
      );
      // The other link still ran to the end.
      expect(cause[1]).toEqual({ link: { index: 1, source: "Sul" }, status: "succeeded" });
      // Not transient: the Map's Catch records it at once.
      expect(events.filter((event) => event.type === "retried")).toEqual([]);
      expect(events.filter((event) => event.type === "caught").map((event) => event.state)).toEqual([
        "ComputeDeaths",
      ]);
      const written = await database.db
        .selectFrom("deaths_by_vehicle")
        .select("source")
        .where("source", "=", "Junk")
        .execute();
      expect(written).toEqual([]);
      expect(await storage.keys("rejects/Junk/")).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});
