import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, type ApiRequest, createApi } from "../src/api/create-api.js";
import type { ExecutionInput } from "../src/api/executions.js";
import { buildOpenApiDocument } from "../src/api/openapi.js";
import { errorSchema, runListSchema, runSchema, uploadResponseSchema } from "../src/api/schemas.js";
import { createApiHandler, withoutCredentials } from "../src/handlers/api-handler.js";
import { LocalExecutions } from "../src/local/local-executions.js";
import type { ExecutionOutcome } from "../src/local/state-machine.js";
import { recordRunStart } from "../src/pipeline/run-index.js";
import { startTestStorage, type TestStorage } from "./support/storage.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

let storage: TestStorage;
let directory: string;
let executions: LocalExecutions;
let api: Api;
/** What each execution was started with, by id; an execution whose input names "fails" fails. */
const started = new Map<string, ExecutionInput>();

const request = (method: string, path: string, body?: unknown, query: Record<string, string> = {}) =>
  api({
    method,
    path,
    query,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  } satisfies ApiRequest);

beforeAll(async () => {
  storage = await startTestStorage("roadtoll-api-test");
  directory = await mkdtemp(join(tmpdir(), "roadtoll-api-"));
  executions = new LocalExecutions({
    directory,
    run: async (input, arn): Promise<ExecutionOutcome> => {
      started.set(arn.split(":").at(-1) as string, input);
      return JSON.stringify(input).includes("fails")
        ? { status: "FAILED", error: "DownloadError", cause: "HTTP 404" }
        : { status: "SUCCEEDED", output: { status: "succeeded", results: [] } };
    },
  });
  api = createApi({ executions, store: storage.api.store, uploadUrlTtlSeconds: 300, uploadMaxBytes: 1000 });
});

afterAll(async () => {
  await storage?.close();
  await rm(directory, { recursive: true, force: true });
});

describe("POST /uploads", () => {
  it("signs a short-lived PUT into landing/<source>/, the file name made safe for a key and the rule", async () => {
    const response = await request("POST", "/uploads", { name: "Relatório São Paulo.CSV", bytes: 10 });
    expect(response.status).toBe(201);
    const upload = uploadResponseSchema.parse(response.body);
    expect(upload.source).toBe("Relatorio_Sao_Paulo");
    expect(upload.key).toMatch(
      /^landing\/Relatorio_Sao_Paulo\/\d{8}T\d{6}Z-[0-9a-f]{8}-Relatorio_Sao_Paulo\.csv$/,
    );
    const url = new URL(upload.uploadUrl);
    expect(url.pathname).toBe(`/${storage.bucket}/${upload.key}`);
    expect(url.searchParams.get("X-Amz-Expires")).toBe("300");
    expect(Date.parse(upload.expiresAt) - Date.now()).toBeGreaterThan(290_000);
    expect(Date.parse(upload.expiresAt) - Date.now()).toBeLessThanOrEqual(300_000);
    // The size is signed: S3 refuses a body of any other length.
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("content-length;host");
  });

  it("signs the Content-Length given (S3 then refuses another size; s3rver checks no signature)", async () => {
    const response = await request("POST", "/uploads", { name: "a.csv.gz", source: "Via_Sul", bytes: 999 });
    const upload = uploadResponseSchema.parse(response.body);
    expect(upload.key).toMatch(/^landing\/Via_Sul\/.*-a\.csv\.gz$/);
    expect(new URL(upload.uploadUrl).searchParams.get("X-Amz-SignedHeaders")).toBe("content-length;host");
    const put = await fetch(upload.uploadUrl, { method: "PUT", body: Buffer.alloc(999) });
    expect(put.status).toBe(200);
  });

  it("refuses a size over the limit, a name that is no CSV or has a folder, and unknown fields", async () => {
    const cases: Array<[unknown, number, string, RegExp]> = [
      [{ name: "a.csv", bytes: 1001 }, 413, "UploadTooLarge", /1001 is over the 1000-byte limit/],
      // Without a size the PUT would be unbounded (up to S3's 5 GB).
      [{ name: "a.csv" }, 400, "InvalidRequest", /body\.bytes: /],
      [{ name: "a.csv", bytes: 0 }, 400, "InvalidRequest", /body\.bytes: /],
      [{ name: "a.xlsx", bytes: 1 }, 400, "InvalidRequest", /body\.name: must end in \.csv or \.csv\.gz/],
      [
        { name: "../../raw/x.csv", bytes: 1 },
        400,
        "InvalidRequest",
        /body\.name: a file name, without folders/,
      ],
      [
        { name: "a.csv", bytes: 1, source: "../x" },
        400,
        "InvalidRequest",
        /body\.source: a source is letters/,
      ],
      [{ name: "a.csv", bytes: 1, bucket: "other" }, 400, "InvalidRequest", /Unrecognized key: "bucket"/],
      ["{not json", 400, "InvalidJson", /the body is not JSON/],
      [undefined, 400, "InvalidRequest", /needs a JSON body/],
    ];
    for (const [body, status, code, message] of cases) {
      const response = await request("POST", "/uploads", body);
      expect(response.status, JSON.stringify(body)).toBe(status);
      const { error } = errorSchema.parse(response.body);
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
    }
  });
});

describe("runs", () => {
  it("starts a run with the state machine's input and describes it once it stopped", async () => {
    const response = await request("POST", "/runs", { links: [{ source: "Via_Sul" }] });
    expect(response.status).toBe(202);
    const { id } = response.body as { id: string };
    expect(response.headers).toEqual({ location: `/runs/${id}` });
    await executions.idle();
    expect(started.get(id)).toEqual({ links: [{ source: "Via_Sul" }] });
    const run = runSchema.parse((await request("GET", `/runs/${id}`)).body);
    expect(run).toMatchObject({ id, status: "SUCCEEDED", output: { status: "succeeded", results: [] } });
    expect(Date.parse(run.stoppedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(run.startedAt));
  });

  it('shows a failed run\'s error and cause, and {"all": true} is an input', async () => {
    const { id } = (await request("POST", "/runs", { links: [{ url: "https://example.com/fails.csv" }] }))
      .body as { id: string };
    await executions.idle();
    expect(runSchema.parse((await request("GET", `/runs/${id}`)).body)).toMatchObject({
      status: "FAILED",
      error: { error: "DownloadError", cause: "HTTP 404" },
    });
    expect((await request("POST", "/runs", { all: true })).status).toBe(202);
  });

  it("refuses an input the state machine would not take", async () => {
    for (const body of [
      { links: [] },
      { links: [{ url: "ftp://x/y.csv" }] },
      { all: false },
      { source: "x" },
    ]) {
      const response = await request("POST", "/runs", body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(errorSchema.parse(response.body).error.code).toBe("InvalidRequest");
    }
  });

  it("lists a source's runs newest first, from the run index, with each execution's status", async () => {
    const ids: string[] = [];
    for (const [index, when] of ["2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"].entries()) {
      const id = `listed-${index}`;
      await executions.start(id, { links: [{ source: "Listed" }] });
      await recordRunStart(storage.store, { id, source: "Listed", startedAt: when, origin: "x" });
      ids.push(id);
    }
    // Indexed, but its execution is gone (Step Functions keeps them 90 days).
    await recordRunStart(storage.store, {
      id: "expired",
      source: "Listed",
      startedAt: "2025-01-01T00:00:00.000Z",
      origin: "x",
    });
    await executions.idle();
    const listed = runListSchema.parse((await request("GET", "/runs", undefined, { source: "Listed" })).body);
    expect(listed.runs.map((run) => [run.id, run.status])).toEqual([
      ["listed-1", "SUCCEEDED"],
      ["listed-0", "SUCCEEDED"],
      ["expired", "UNKNOWN"],
    ]);
    expect(listed.runs[2]?.startedAt).toBe("2025-01-01T00:00:00.000Z");
    const limited = runListSchema.parse(
      (await request("GET", "/runs", undefined, { source: "Listed", limit: "1" })).body,
    );
    expect(limited.runs.map((run) => run.id)).toEqual(["listed-1"]);
    expect((await request("GET", "/runs", undefined, {})).status).toBe(400);
    expect((await request("GET", "/runs", undefined, { source: "a/b" })).status).toBe(400);
  });

  it("answers 404 for an unknown run or path and 405 for a wrong method, as JSON", async () => {
    const cases: Array<[string, string, number, string]> = [
      ["GET", "/runs/no-such-run", 404, "RunNotFound"],
      ["GET", "/runs/..%2F..%2Fetc", 400, "InvalidRequest"],
      ["GET", "/runs/%E0%A4%A", 400, "InvalidRequest"],
      ["GET", "/nowhere", 404, "NotFound"],
      ["DELETE", "/runs", 405, "MethodNotAllowed"],
      ["GET", "/uploads", 405, "MethodNotAllowed"],
    ];
    for (const [method, path, status, code] of cases) {
      const response = await request(method, path);
      expect(response.status, `${method} ${path}`).toBe(status);
      expect(errorSchema.parse(response.body).error.code).toBe(code);
    }
  });

  it("answers 503, with no detail, when Step Functions or S3 fails, and 500 for anything else", async () => {
    const failing = (error: Error) =>
      createApi({
        executions: {
          start: async () => {
            throw error;
          },
          describe: async () => undefined,
        },
        store: storage.api.store,
        uploadUrlTtlSeconds: 60,
        uploadMaxBytes: 10,
      });
    const { RoadtollError } = await import("../src/errors.js");
    const busy = await failing(new RoadtollError("ExecutionServiceError", "ThrottlingException: secret-arn"))(
      {
        method: "POST",
        path: "/runs",
        query: {},
        body: '{"all": true}',
      },
    );
    expect(busy.status).toBe(503);
    expect(busy.headers).toEqual({ "retry-after": "5" });
    expect(JSON.stringify(busy.body)).not.toContain("secret-arn");
    const broken = await failing(new TypeError("x is undefined at /src/secret.ts:1"))({
      method: "POST",
      path: "/runs",
      query: {},
      body: '{"all": true}',
    });
    expect(broken).toEqual({
      status: 500,
      body: { error: { code: "InternalError", message: "internal error" } },
    });
  });
});

describe("the API Gateway handler", () => {
  let event: Record<string, unknown>;
  beforeAll(async () => {
    event = JSON.parse(await readFile(join(ROOT, "events/api-gateway-post-runs.json"), "utf8"));
  });

  it("turns the HTTP API's event (payload 2.0, base64 body) into a request, and the reply into its result", async () => {
    const result = await createApiHandler(api)(withoutCredentials(event));
    expect(result.statusCode).toBe(202);
    expect(result.headers["content-type"]).toBe("application/json");
    const { id } = JSON.parse(result.body) as { id: string };
    await executions.idle();
    expect(started.get(id)).toEqual({ links: [{ source: "Via_Sul" }] });
  });

  it("gives the handler (and so the log) no header, cookie or authorizer claim", () => {
    const kept = JSON.stringify(withoutCredentials(event));
    expect(JSON.stringify(event)).toContain("AWS4-HMAC-SHA256");
    expect(kept).not.toContain("AWS4-HMAC-SHA256");
    expect(kept).not.toContain("cookie-secret");
    expect(kept).not.toContain("claims");
  });
});

describe("OpenAPI", () => {
  it("is a valid OpenAPI 3.1 document, generated from the schemas, and docs/openapi.json is up to date", async () => {
    const document = buildOpenApiDocument();
    const result = await new Validator().validate(document as Parameters<Validator["validate"]>[0]);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    const paths = document.paths as Record<string, Record<string, unknown>>;
    expect(Object.keys(paths).sort()).toEqual(["/runs", "/runs/{id}", "/uploads"]);
    const checkedIn = JSON.parse(await readFile(join(ROOT, "docs/openapi.json"), "utf8")) as unknown;
    // Regenerate with: npm run openapi
    expect(checkedIn).toEqual(document);
    expect((await request("GET", "/openapi.json")).body).toEqual(document);
  });
});
