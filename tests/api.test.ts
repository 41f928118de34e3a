import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiApp, type ApiDeps, createApiApp, MAX_BODY_BYTES, openApiDocument } from "../src/api/app.js";
import { errorSchema, runListSchema, runSchema, uploadResponseSchema } from "../src/api/schemas.js";
import type { ExecutionInput } from "../src/contracts/executions.js";
import { RoadtollError } from "../src/errors.js";
import { createApiLambdaHandler, withoutCredentials } from "../src/lambda/api-event.js";
import { startHttpServer } from "../src/local/http-server.js";
import { LocalExecutions } from "../src/local/local-executions.js";
import { loopbackGuard } from "../src/local/loopback-guard.js";
import type { ExecutionOutcome } from "../src/local/state-machine.js";
import { recordRunStart } from "../src/pipeline/run-index.js";
import { startTestStorage, type TestStorage } from "./support/storage.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

interface Call {
  method: string;
  /** With its query string, as sent. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  /** The body parsed as JSON, the text when it is not, undefined when empty. */
  body: unknown;
}

type Client = (call: Call) => Promise<Reply>;

/** A body as sent: JSON unless it is a string already. JSON bodies get their Content-Type. */
function encode(call: Call): { text: string | undefined; headers: Record<string, string> } {
  if (call.body === undefined) return { text: undefined, headers: call.headers ?? {} };
  const text = typeof call.body === "string" ? call.body : JSON.stringify(call.body);
  return { text, headers: { "content-type": "application/json", ...call.headers } };
}

function decode(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The two ways the API is served: the API Lambda's handler, given API Gateway's event (payload 2.0), and
 * `roadtoll serve`'s server, over HTTP on loopback with its guard. Every case of the table runs through both.
 */
const transports: Record<
  string,
  (deps?: Partial<ApiDeps>) => Promise<{ client: Client; close(): Promise<void> }>
> = {
  lambda: async (deps) => {
    const handler = createApiLambdaHandler(appWith(deps));
    const client: Client = async (call) => {
      const { text, headers } = encode(call);
      const [rawPath = "/", rawQueryString = ""] = call.path.split("?", 2);
      const event = {
        version: "2.0",
        routeKey: "$default",
        rawPath,
        rawQueryString,
        headers: { host: "abc123.execute-api.us-east-1.amazonaws.com", ...headers },
        requestContext: {
          domainName: "abc123.execute-api.us-east-1.amazonaws.com",
          http: { method: call.method, path: rawPath },
        },
        ...(text === undefined ? {} : { body: Buffer.from(text).toString("base64"), isBase64Encoded: true }),
      };
      const result = await handler(withoutCredentials(event));
      return { status: result.statusCode, headers: result.headers ?? {}, body: decode(result.body) };
    };
    return { client, close: async () => {} };
  },
  serve: async (deps) => {
    let port = 0;
    const app = appWith({ ...deps, guard: loopbackGuard(() => port) });
    const server = await startHttpServer(app.fetch, 0);
    port = server.port;
    const client: Client = (call) =>
      new Promise((resolve, reject) => {
        const { text, headers } = encode(call);
        let answered = false;
        const request = httpRequest(
          {
            host: "127.0.0.1",
            port: server.port,
            agent: false,
            method: call.method,
            path: call.path,
            headers: { host: `127.0.0.1:${server.port}`, ...headers },
          },
          (response) => {
            answered = true;
            const chunks: Buffer[] = [];
            const reply = {
              status: response.statusCode ?? 0,
              headers: Object.fromEntries(
                Object.entries(response.headers).map(([name, value]) => [name, String(value)]),
              ),
            };
            response.on("data", (chunk: Buffer) => chunks.push(chunk));
            // A body the server refused unread may reset the connection once the answer is in.
            const done = () => resolve({ ...reply, body: decode(Buffer.concat(chunks).toString("utf8")) });
            response.on("end", done);
            response.on("error", done);
          },
        );
        request.on("error", (error) => {
          if (!answered) reject(error);
        });
        request.end(text);
      });
    return { client, close: () => server.close() };
  },
};

let storage: TestStorage;
let directory: string;
let executions: LocalExecutions;
/** What each execution was started with, by id; an execution whose input names "fails" fails. */
const started = new Map<string, ExecutionInput>();
const appWith = (deps: Partial<ApiDeps> = {}): ApiApp =>
  createApiApp({
    executions,
    store: storage.api.store,
    uploadUrlTtlSeconds: 300,
    uploadMaxBytes: 1000,
    ...deps,
  });

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
});

afterAll(async () => {
  await storage?.close();
  await rm(directory, { recursive: true, force: true });
});

describe.each(Object.keys(transports))("the API through %s", (transport) => {
  let client: Client;
  let close: () => Promise<void>;
  const connectApp = (deps?: Partial<ApiDeps>) =>
    (transports[transport] as (typeof transports)["lambda"])(deps);
  beforeAll(async () => {
    ({ client, close } = await connectApp());
  });
  afterAll(() => close?.());

  const errorOf = (reply: Reply) => errorSchema.parse(reply.body).error;

  describe("POST /uploads", () => {
    it("signs a short-lived PUT into landing/<source>/, the file name made safe for a key and the rule", async () => {
      const reply = await client({
        method: "POST",
        path: "/uploads",
        body: { name: "Relatório São Paulo.CSV", bytes: 10 },
      });
      expect(reply.status, JSON.stringify(reply.body)).toBe(201);
      expect(reply.headers["content-type"]).toMatch(/^application\/json/);
      expect(reply.headers["cache-control"]).toBe("no-store");
      const upload = uploadResponseSchema.parse(reply.body);
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
      const reply = await client({
        method: "POST",
        path: "/uploads",
        body: { name: "a.csv.gz", source: "Via_Sul", bytes: 999 },
      });
      const upload = uploadResponseSchema.parse(reply.body);
      expect(upload.key).toMatch(/^landing\/Via_Sul\/.*-a\.csv\.gz$/);
      const put = await fetch(upload.uploadUrl, { method: "PUT", body: Buffer.alloc(999) });
      expect(put.status).toBe(200);
    });

    it.each<[string, unknown, number, string, RegExp]>([
      [
        "a size over the limit",
        { name: "a.csv", bytes: 1001 },
        413,
        "UploadTooLarge",
        /1001 is over the 1000-byte/,
      ],
      // Without a size the PUT would be unbounded (up to S3's 5 GB).
      ["no size", { name: "a.csv" }, 400, "InvalidRequest", /body\.bytes: /],
      ["a size of 0", { name: "a.csv", bytes: 0 }, 400, "InvalidRequest", /body\.bytes: /],
      [
        "no CSV",
        { name: "a.xlsx", bytes: 1 },
        400,
        "InvalidRequest",
        /body\.name: must end in \.csv or \.csv\.gz/,
      ],
      [
        "a folder",
        { name: "../../raw/x.csv", bytes: 1 },
        400,
        "InvalidRequest",
        /body\.name: a file name, without/,
      ],
      [
        "a bad source",
        { name: "a.csv", bytes: 1, source: "../x" },
        400,
        "InvalidRequest",
        /body\.source: a source/,
      ],
      ["an unknown field", { name: "a.csv", bytes: 1, bucket: "o" }, 400, "InvalidRequest", /"bucket"/],
      ["no JSON", "{not json", 400, "InvalidJson", /the body is not JSON/],
      ["an empty body", " ", 400, "InvalidRequest", /needs a JSON body/],
    ])("refuses %s", async (_, body, status, code, message) => {
      const reply = await client({ method: "POST", path: "/uploads", body });
      expect(reply.status, JSON.stringify(reply.body)).toBe(status);
      expect(errorOf(reply).code).toBe(code);
      expect(errorOf(reply).message).toMatch(message);
    });
  });

  describe("runs", () => {
    it("starts a run with the state machine's input and describes it once it stopped", async () => {
      const reply = await client({ method: "POST", path: "/runs", body: { links: [{ source: "Via_Sul" }] } });
      expect(reply.status, JSON.stringify(reply.body)).toBe(202);
      const { id } = reply.body as { id: string };
      expect(reply.headers.location).toBe(`/runs/${id}`);
      await executions.idle();
      expect(started.get(id)).toEqual({ links: [{ source: "Via_Sul" }] });
      const run = runSchema.parse((await client({ method: "GET", path: `/runs/${id}` })).body);
      expect(run).toMatchObject({ id, status: "SUCCEEDED", output: { status: "succeeded", results: [] } });
      expect(Date.parse(run.stoppedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(run.startedAt));
    });

    it('shows a failed run\'s error and cause, and {"all": true} is an input', async () => {
      const reply = await client({
        method: "POST",
        path: "/runs",
        body: { links: [{ url: "https://example.com/fails.csv" }] },
      });
      const { id } = reply.body as { id: string };
      await executions.idle();
      expect(runSchema.parse((await client({ method: "GET", path: `/runs/${id}` })).body)).toMatchObject({
        status: "FAILED",
        error: { error: "DownloadError", cause: "HTTP 404" },
      });
      expect((await client({ method: "POST", path: "/runs", body: { all: true } })).status).toBe(202);
    });

    const link = { source: "Via_Sul" };
    it.each<[string, unknown, string]>([
      ["no link", { links: [] }, "body.links: at least 1"],
      ["1,001 links", { links: Array.from({ length: 1001 }, () => link) }, "body.links: at most 1000"],
      ["all: false", { all: false }, "body.all: must be true"],
      [
        "a bad source",
        { links: [link, link, link, { source: "a/b" }] },
        "body.links[3].source: a source is letters, digits, _ and - (1 to 100)",
      ],
      ["an ftp link", { links: [{ url: "ftp://x/y.csv" }] }, "body.links[0].url: must be an http(s) URL"],
      ["a bare link", { source: "x" }, 'body: needs {"links": [1 to 1000 links]} or {"all": true}'],
      ["nothing", {}, 'body: needs {"links"'],
      ["a link of no kind", { links: [{ href: "x" }] }, 'body.links[0]: a link is {"url"}, {"source"} or'],
    ])("refuses %s, naming the field and the rule, and starts nothing", async (_, body, message) => {
      const before = started.size;
      const reply = await client({ method: "POST", path: "/runs", body });
      expect(reply.status, JSON.stringify(reply.body)).toBe(400);
      expect(errorOf(reply).code).toBe("InvalidRequest");
      expect(errorOf(reply).message).toContain(message);
      await executions.idle();
      expect(started.size).toBe(before);
    });

    it.each<[string, Record<string, string>, number, string]>([
      [
        "text/plain (a browser's simple request)",
        { "content-type": "text/plain" },
        415,
        "UnsupportedMediaType",
      ],
      ["a form", { "content-type": "application/x-www-form-urlencoded" }, 415, "UnsupportedMediaType"],
      [
        "a multipart form",
        { "content-type": "multipart/form-data; boundary=x" },
        415,
        "UnsupportedMediaType",
      ],
    ])("refuses a body of %s with 415 and starts nothing", async (_, headers, status, code) => {
      const before = started.size;
      const reply = await client({ method: "POST", path: "/runs", body: '{"all": true}', headers });
      expect(reply.status).toBe(status);
      expect(errorOf(reply).code).toBe(code);
      await executions.idle();
      expect(started.size).toBe(before);
    });

    it("refuses a body over the limit with 413, and takes application/json with a charset", async () => {
      const huge = JSON.stringify({ links: [{ url: `https://example.com/${"x".repeat(MAX_BODY_BYTES)}` }] });
      const reply = await client({ method: "POST", path: "/runs", body: huge });
      expect(reply.status).toBe(413);
      expect(errorOf(reply).code).toBe("PayloadTooLarge");
      const typed = await client({
        method: "POST",
        path: "/runs",
        body: '{"all": true}',
        headers: { "content-type": "application/json; charset=utf-8" },
      });
      expect(typed.status).toBe(202);
    });

    it("lists a source's runs newest first, from the run index, with each execution's status", async () => {
      const source = `Listed_${transport}`;
      for (const [index, when] of ["2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"].entries()) {
        const id = `${source}-${index}`;
        await executions.start(id, { links: [{ source }] });
        await recordRunStart(storage.store, { id, source, startedAt: when, origin: "x" });
      }
      // Indexed, but its execution is gone (Step Functions keeps them 90 days).
      await recordRunStart(storage.store, {
        id: `${source}-expired`,
        source,
        startedAt: "2025-01-01T00:00:00.000Z",
        origin: "x",
      });
      await executions.idle();
      const listed = runListSchema.parse(
        (await client({ method: "GET", path: `/runs?source=${source}` })).body,
      );
      expect(listed.runs.map((run) => [run.id, run.status])).toEqual([
        [`${source}-1`, "SUCCEEDED"],
        [`${source}-0`, "SUCCEEDED"],
        [`${source}-expired`, "UNKNOWN"],
      ]);
      expect(listed.runs[2]?.startedAt).toBe("2025-01-01T00:00:00.000Z");
      const limited = runListSchema.parse(
        (await client({ method: "GET", path: `/runs?source=${source}&limit=1` })).body,
      );
      expect(limited.runs.map((run) => run.id)).toEqual([`${source}-1`]);
      const missing = await client({ method: "GET", path: "/runs" });
      expect(missing.status).toBe(400);
      expect(errorOf(missing).message).toMatch(/^query\.source: /);
      expect((await client({ method: "GET", path: "/runs?source=a%2Fb" })).status).toBe(400);
      expect(errorOf(await client({ method: "GET", path: "/runs?source=x&limit=101" })).message).toMatch(
        /query\.limit: /,
      );
    });
  });

  describe("HTTP", () => {
    it.each<[string, string, number, string, string | undefined]>([
      ["GET", "/runs/no-such-run", 404, "RunNotFound", undefined],
      ["GET", "/runs/..%2F..%2Fetc", 400, "InvalidRequest", undefined],
      ["GET", "/runs/%E0%A4%A", 400, "InvalidRequest", undefined],
      ["GET", "/nowhere", 404, "NotFound", undefined],
      ["DELETE", "/runs", 405, "MethodNotAllowed", "GET, HEAD, POST, OPTIONS"],
      ["PUT", "/runs/abc", 405, "MethodNotAllowed", "GET, HEAD, OPTIONS"],
      ["GET", "/uploads", 405, "MethodNotAllowed", "POST, OPTIONS"],
    ])("%s %s answers %i %s as JSON", async (method, path, status, code, allow) => {
      const reply = await client({ method, path });
      expect(reply.status).toBe(status);
      expect(errorOf(reply).code).toBe(code);
      if (allow) expect(reply.headers.allow?.split(", ").sort()).toEqual(allow.split(", ").sort());
    });

    it("answers HEAD on every GET route as GET does, without a body", async () => {
      const { id } = (await client({ method: "POST", path: "/runs", body: { all: true } })).body as {
        id: string;
      };
      await executions.idle();
      for (const path of [`/runs/${id}`, "/runs?source=x", "/openapi.json"]) {
        const get = await client({ method: "GET", path });
        const head = await client({ method: "HEAD", path });
        expect(head.status, path).toBe(get.status);
        expect(head.status, path).toBe(200);
        expect(head.body, path).toBeUndefined();
        expect(head.headers["content-type"]).toBe(get.headers["content-type"]);
      }
      expect((await client({ method: "HEAD", path: "/runs/none" })).status).toBe(404);
    });

    it("answers OPTIONS with what a path allows, and no CORS", async () => {
      for (const [path, allow] of [
        ["/runs", "GET, HEAD, OPTIONS, POST"],
        ["/uploads", "OPTIONS, POST"],
        ["/runs/abc", "GET, HEAD, OPTIONS"],
      ] as const) {
        const reply = await client({
          method: "OPTIONS",
          path,
          headers: { "access-control-request-method": "POST" },
        });
        expect(reply.status, path).toBe(204);
        expect(reply.headers.allow?.split(", ").sort().join(", ")).toBe(allow);
        expect(Object.keys(reply.headers).filter((name) => name.startsWith("access-control-"))).toEqual([]);
      }
    });

    it("answers 503, with no detail, when Step Functions or S3 fails, and 500 for anything else", async () => {
      const failing = async (error: Error) => {
        const logged: unknown[] = [];
        const connected = await connectApp({
          executions: {
            start: async () => {
              throw error;
            },
            describe: async () => undefined,
          },
          onError: (cause) => logged.push(cause),
        });
        try {
          const reply = await connected.client({ method: "POST", path: "/runs", body: { all: true } });
          return { reply, logged };
        } finally {
          await connected.close();
        }
      };
      const busy = await failing(
        new RoadtollError("ExecutionServiceError", "ThrottlingException: secret-arn"),
      );
      expect(busy.reply.status).toBe(503);
      expect(busy.reply.headers["retry-after"]).toBe("5");
      expect(JSON.stringify(busy.reply.body)).not.toContain("secret-arn");
      const broken = await failing(new TypeError("x is undefined at /src/secret.ts:1"));
      expect(broken.reply.status).toBe(500);
      expect(broken.reply.body).toEqual({ error: { code: "InternalError", message: "internal error" } });
      expect(broken.logged).toHaveLength(1);
    });

    it("serves its OpenAPI document", async () => {
      const reply = await client({ method: "GET", path: "/openapi.json" });
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual(openApiDocument(appWith()));
    });
  });
});

describe("roadtoll serve's guard (loopback only, no web page of another origin)", () => {
  let port = 0;
  let close: () => Promise<void>;
  const raw = (headers: Record<string, string>, method = "POST", body = '{"all": true}') =>
    new Promise<Reply>((resolve, reject) => {
      const request = httpRequest(
        {
          host: "127.0.0.1",
          port,
          method,
          path: "/runs",
          headers: { "content-type": "application/json", ...headers },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: {},
              body: decode(Buffer.concat(chunks).toString("utf8")),
            }),
          );
        },
      );
      request.on("error", reject);
      request.end(method === "POST" ? body : undefined);
    });

  beforeAll(async () => {
    let guardPort = 0;
    const app = createApiApp({
      executions,
      store: storage.api.store,
      uploadUrlTtlSeconds: 60,
      uploadMaxBytes: 10,
      guard: loopbackGuard(() => guardPort),
    });
    const server = await startHttpServer(app.fetch, 0);
    port = guardPort = server.port;
    close = () => server.close();
  });
  afterAll(() => close?.());

  it.each<[string, (port: number) => Record<string, string>, number, string]>([
    ["a rebound name in Host", () => ({ host: "rebind.evil.example" }), 421, "MisdirectedRequest"],
    ["another port in Host", (p) => ({ host: `127.0.0.1:${p + 1}` }), 421, "MisdirectedRequest"],
    [
      "a foreign Origin",
      (p) => ({ host: `127.0.0.1:${p}`, origin: "http://evil.example" }),
      403,
      "ForbiddenOrigin",
    ],
    ["Origin null", (p) => ({ host: `localhost:${p}`, origin: "null" }), 403, "ForbiddenOrigin"],
    [
      "another loopback port's Origin",
      (p) => ({ host: `127.0.0.1:${p}`, origin: `http://127.0.0.1:${p + 1}` }),
      403,
      "ForbiddenOrigin",
    ],
    [
      "Sec-Fetch-Site: cross-site",
      (p) => ({ host: `127.0.0.1:${p}`, "sec-fetch-site": "cross-site" }),
      403,
      "ForbiddenOrigin",
    ],
  ])("refuses %s and starts nothing", async (_, headers, status, code) => {
    const before = started.size;
    for (const method of ["POST", "GET"]) {
      const reply = await raw(headers(port), method);
      expect(reply.status, method).toBe(status);
      expect(errorSchema.parse(reply.body).error.code).toBe(code);
    }
    await executions.idle();
    expect(started.size).toBe(before);
  });

  it("answers its own names and its own origin", async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
      expect((await raw({ host })).status, host).toBe(202);
    }
    expect((await raw({ host: `localhost:${port}`, origin: `http://localhost:${port}` })).status).toBe(202);
    expect((await raw({ host: `127.0.0.1:${port}`, "sec-fetch-site": "same-origin" })).status).toBe(202);
    await executions.idle();
  });

  it("answers what Node refuses before the app (a header block over the limit, no HTTP) in JSON", async () => {
    const exchange = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(port, "127.0.0.1", () => socket.end(request));
        let text = "";
        socket.on("data", (chunk) => {
          text += chunk.toString();
        });
        socket.on("end", () => resolve(text));
        socket.on("error", reject);
      });
    const long = await exchange(`GET /${"a".repeat(100_000)} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    expect(long).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(long.slice(long.indexOf("\r\n\r\n") + 4))).toMatchObject({
      error: { code: "HeadersTooLarge" },
    });
    const garbage = await exchange("FROB /runs HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(garbage.slice(garbage.indexOf("\r\n\r\n") + 4))).toMatchObject({
      error: { code: "MalformedRequest" },
    });
  });
});

describe("the API Gateway handler", () => {
  let event: Record<string, unknown>;
  beforeAll(async () => {
    event = JSON.parse(await readFile(join(ROOT, "events/api-gateway-post-runs.json"), "utf8"));
  });

  it("answers the HTTP API's event (payload 2.0, base64 body) with its result", async () => {
    const result = await createApiLambdaHandler(appWith())(withoutCredentials(event));
    expect(result.statusCode).toBe(202);
    expect(result.headers?.["content-type"]).toMatch(/^application\/json/);
    const { id } = JSON.parse(result.body) as { id: string };
    await executions.idle();
    expect(started.get(id)).toEqual({ links: [{ source: "Via_Sul" }] });
  });

  it("gives the app (and so the log) no Authorization header, cookie or authorizer claim", () => {
    const kept = JSON.stringify(withoutCredentials(event));
    expect(JSON.stringify(event)).toContain("AWS4-HMAC-SHA256");
    expect(kept).not.toContain("AWS4-HMAC-SHA256");
    expect(kept).not.toContain("cookie-secret");
    expect(kept).not.toContain("claims");
    expect(kept).not.toContain("AKIAEXAMPLEKEY");
    expect(kept).toContain("application/json");
  });

  it("fails an event that is no HTTP API request with InvalidEventError", async () => {
    await expect(createApiLambdaHandler(appWith())({ links: [] })).rejects.toMatchObject({
      name: "InvalidEventError",
    });
  });
});

describe("OpenAPI", () => {
  it("is a valid OpenAPI 3.1 document, generated from the routes, and docs/openapi.json is up to date", async () => {
    const document = openApiDocument(appWith()) as Record<string, unknown>;
    const result = await new Validator().validate(document as Parameters<Validator["validate"]>[0]);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    const paths = document.paths as Record<string, Record<string, unknown>>;
    expect(Object.keys(paths).sort()).toEqual(["/runs", "/runs/{id}", "/uploads"]);
    expect(Object.keys(paths["/runs"] ?? {}).sort()).toEqual(["get", "post"]);
    const checkedIn = JSON.parse(await readFile(join(ROOT, "docs/openapi.json"), "utf8")) as unknown;
    // Regenerate with: npm run openapi
    expect(checkedIn).toEqual(document);
  });
});
