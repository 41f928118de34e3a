import { Logger } from "@aws-lambda-powertools/logger";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RoadtollError } from "../errors.js";
import { type InvocationContext, instrument } from "./instrument.js";
import { createLogger } from "./logger.js";

interface Line {
  stream: "stdout" | "stderr";
  entry: Record<string, unknown>;
}

/**
 * Powertools prints through a Console of its own on process.stdout and process.stderr, not through the global
 * console, so the streams' `write` is what to watch. Every line must be one JSON object.
 */
function captureLines(): Line[] {
  const lines: Line[] = [];
  for (const stream of ["stdout", "stderr"] as const) {
    vi.spyOn(process[stream], "write").mockImplementation((chunk: string | Uint8Array) => {
      for (const text of String(chunk).split("\n")) {
        if (text !== "") lines.push({ stream, entry: JSON.parse(text) as Record<string, unknown> });
      }
      return true;
    });
  }
  return lines;
}

const context = (awsRequestId: string): InvocationContext => ({
  awsRequestId,
  functionName: "roadtoll-ingest",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:roadtoll-ingest",
  memoryLimitInMB: "1024",
  functionVersion: "$LATEST",
});

const EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:roadtoll-pipeline:run-1";

beforeEach(() => {
  // Lambda sets it; Powertools reports a cold start only for on-demand environments.
  vi.stubEnv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe("instrument", () => {
  it("returns the handler's result and logs one JSON line with the context and the duration", async () => {
    const logger = createLogger({ LOG_LEVEL: "info" });
    const lines = captureLines();
    const handler = instrument("ingest", async (event) => ({ echoed: event }), logger);
    await expect(handler({ source: "Via_Sul" }, context("req-1"))).resolves.toEqual({
      echoed: { source: "Via_Sul" },
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.stream).toBe("stdout");
    const entry = lines[0]?.entry as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: "INFO",
      message: "succeeded",
      service: "roadtoll",
      step: "ingest",
      function_request_id: "req-1",
      function_name: "roadtoll-ingest",
      cold_start: true,
      result: { echoed: { source: "Via_Sul" } },
    });
    expect(entry.timestamp).toBeTypeOf("string");
    expect(entry.durationMs).toBeTypeOf("number");
    expect(entry).not.toHaveProperty("correlation_id");

    await handler({ source: "Via_Sul" }, context("req-2"));
    expect(lines[1]?.entry).toMatchObject({ function_request_id: "req-2", cold_start: false });
  });

  it("logs the execution as correlation id on every line of that invocation, and on no later one", async () => {
    const logger = createLogger({ LOG_LEVEL: "debug" });
    const lines = captureLines();
    const handler = instrument("deaths", async () => ({ ok: true }), logger);
    await handler({ key: "clean/x.csv", execution: EXECUTION }, context("req-1"));
    expect(lines.map((line) => [line.entry.level, line.entry.message, line.entry.correlation_id])).toEqual([
      ["DEBUG", "invocation", EXECUTION],
      ["INFO", "succeeded", EXECUTION],
    ]);
    expect(lines[0]?.entry).toMatchObject({ event: { key: "clean/x.csv", execution: EXECUTION } });
    await handler({ key: "clean/x.csv" }, context("req-2"));
    expect(lines.slice(2).map((line) => line.entry.correlation_id)).toEqual([undefined, undefined]);
  });

  it("rethrows the very same error, so Step Functions still matches its name, and logs where it happened", async () => {
    const logger = createLogger({ LOG_LEVEL: "info" });
    const lines = captureLines();
    const failure = new RoadtollError("HeaderError", "missing required column mortos", {
      where: { resource: "x.csv", line: 1 },
    });
    const handler = instrument(
      "ingest",
      async () => {
        throw failure;
      },
      logger,
    );
    const event = { link: { url: "http://x/x.csv" }, execution: EXECUTION };
    await expect(handler(event, context("req-9"))).rejects.toBe(failure);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.stream).toBe("stderr");
    expect(lines[0]?.entry).toMatchObject({
      level: "ERROR",
      message: "failed",
      step: "ingest",
      function_request_id: "req-9",
      correlation_id: EXECUTION,
      error: { name: "HeaderError", message: "x.csv, line 1: missing required column mortos" },
      where: { resource: "x.csv", line: 1 },
      event: { link: { url: "http://x/x.csv" }, execution: EXECUTION },
    });
    expect(lines[0]?.entry.durationMs).toBeTypeOf("number");
  });

  it("logs events and results redacted itself, whatever logger it is given", async () => {
    // A bare Powertools logger: no redacting replacer, so only instrument's own redaction stands.
    vi.stubEnv("POWERTOOLS_LOG_LEVEL", "DEBUG");
    const bare = new Logger({ serviceName: "bare" });
    const lines = captureLines();
    const handler = instrument("ingest", async () => ({ url: "https://h.example/a.csv?token=S3CRET" }), bare);
    await handler({ url: "https://u:pw@h.example/a.csv?token=S3CRET" });
    const failing = instrument(
      "ingest",
      async () => {
        throw new RoadtollError("DownloadError", "server answered HTTP 404", {
          where: { resource: "https://h.example/a.csv?token=S3CRET" },
        });
      },
      bare,
    );
    await expect(failing({ link: { url: "https://u:pw@h.example/a.csv?token=S3CRET" } })).rejects.toThrow();
    expect(lines).toHaveLength(4);
    expect(JSON.stringify(lines)).not.toMatch(/S3CRET|pw@/);
    expect(lines[0]?.entry).toMatchObject({ event: { url: "https://***@h.example/a.csv?token=***" } });
    expect(lines[1]?.entry).toMatchObject({ result: { url: "https://h.example/a.csv?token=***" } });
    expect(lines[3]?.entry).toMatchObject({
      error: { message: "https://h.example/a.csv?token=***: server answered HTTP 404" },
      where: { resource: "https://h.example/a.csv?token=***" },
    });
  });
});

describe("createLogger", () => {
  it("redacts every URL in every line, wherever it stands, whoever logs it", () => {
    const logger = createLogger({});
    const lines = captureLines();
    logger.info({
      message: "cannot reach postgres://postgres:S3CRET@db.example:5432/roadtoll: connection refused",
      nested: { links: ["https://h.example/a.csv?sig=S3CRET"] },
      error: { name: "FetchError", message: "GET https://u:S3CRET@h.example/x failed" },
    });
    logger.error("https://h.example/a.csv?token=S3CRET");
    expect(JSON.stringify(lines)).not.toContain("S3CRET");
    expect(lines.map((line) => line.entry)).toMatchObject([
      {
        message: "cannot reach postgres://***@db.example:5432/roadtoll: connection refused",
        nested: { links: ["https://h.example/a.csv?sig=***"] },
        error: { message: "GET https://***@h.example/x failed" },
      },
      { message: "https://h.example/a.csv?token=***" },
    ]);
  });

  it.each([
    [{ LOG_LEVEL: "debug" }, "DEBUG"],
    [{ LOG_LEVEL: "WARN" }, "WARN"],
    [{ LOG_LEVEL: " error " }, "ERROR"],
    [{}, "INFO"],
    [{ LOG_LEVEL: "info", POWERTOOLS_LOG_LEVEL: "debug" }, "DEBUG"],
  ])("reads the level from %j (any case): %s", (env, level) => {
    expect(createLogger(env).getLevelName()).toBe(level);
  });

  it("falls back to info on a level it does not know, and says so once", () => {
    const lines = captureLines();
    const logger = createLogger({ LOG_LEVEL: "verbose" });
    expect(logger.getLevelName()).toBe("INFO");
    expect(lines.map((line) => [line.stream, line.entry.level, line.entry.message])).toEqual([
      ["stderr", "WARN", 'LOG_LEVEL "verbose" is not one of debug, info, warn, error; logging at info'],
    ]);
  });

  it("names the service roadtoll unless POWERTOOLS_SERVICE_NAME says otherwise", () => {
    const lines = captureLines();
    createLogger({}).info("a");
    createLogger({ POWERTOOLS_SERVICE_NAME: "roadtoll-dev" }).info("b");
    expect(lines.map((line) => line.entry.service)).toEqual(["roadtoll", "roadtoll-dev"]);
  });
});
