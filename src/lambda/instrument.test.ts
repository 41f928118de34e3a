import { afterEach, describe, expect, it, vi } from "vitest";
import { RoadtollError } from "../errors.js";
import { instrument } from "./instrument.js";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("instrument", () => {
  it("returns the handler's result and logs one JSON line with the duration", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => lines.push(line));
    const handler = instrument("ingest", async (event) => ({ echoed: event }));
    await expect(handler({ source: "Via_Sul" }, { awsRequestId: "req-1" })).resolves.toEqual({
      echoed: { source: "Via_Sul" },
    });
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: "info",
      step: "ingest",
      requestId: "req-1",
      message: "succeeded",
      result: { echoed: { source: "Via_Sul" } },
    });
    expect(entry.durationMs).toBeTypeOf("number");
  });

  it("rethrows the very same error, so Step Functions still matches its name, and logs where it happened", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: string) => lines.push(line));
    const failure = new RoadtollError("HeaderError", "missing required column mortos", {
      where: { file: "x.csv", line: 1 },
    });
    const handler = instrument("ingest", async () => {
      throw failure;
    });
    await expect(handler({ url: "http://x/x.csv" })).rejects.toBe(failure);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      level: "error",
      message: "failed",
      error: { name: "HeaderError", message: "x.csv, line 1: missing required column mortos" },
      where: { file: "x.csv", line: 1 },
      event: { url: "http://x/x.csv" },
    });
  });

  it("logs links redacted: no user, password or query value reaches a log line", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: string) => lines.push(line));
    const handler = instrument("ingest", async () => {
      throw new RoadtollError("DownloadError", "server answered HTTP 404", {
        where: { file: "https://h.example/a.csv?token=***" },
      });
    });
    await expect(handler({ url: "https://u:pw@h.example/a.csv?token=S3CRET" })).rejects.toThrow();
    expect(lines.join("\n")).not.toMatch(/S3CRET|pw@/);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      event: { url: "https://***@h.example/a.csv?token=***" },
    });
  });
});
