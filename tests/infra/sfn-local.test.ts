// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${...}` are ASL placeholders, not JS.
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { localFunctionArns, main, substitutePlaceholders } from "../../scripts/sfn-local.js";

const root = resolve(import.meta.dirname, "../..");

describe("substitutePlaceholders", () => {
  it("replaces every occurrence of every placeholder", () => {
    const definition = '{"A":"${One}","B":"${Two}","C":"${One}:suffix"}';
    expect(substitutePlaceholders(definition, { One: "1", Two: "2" })).toBe(
      '{"A":"1","B":"2","C":"1:suffix"}',
    );
  });

  it("fails on a placeholder without a value, naming it", () => {
    expect(() => substitutePlaceholders('"${One}" "${Missing}"', { One: "1" })).toThrow(
      "no substitution for placeholder(s): Missing",
    );
  });

  it("fails on a value that no placeholder uses, since the definition and the template have drifted", () => {
    expect(() => substitutePlaceholders('"${One}"', { One: "1", Stale: "2" })).toThrow(
      "substitution(s) not used by the definition: Stale",
    );
  });

  it("ignores names inherited from Object.prototype", () => {
    expect(() => substitutePlaceholders('"${toString}"', {})).toThrow("toString");
  });

  it("leaves JSONPath and intrinsic syntax alone", () => {
    const definition = '{"p.$":"$.links","q.$":"States.Format(\'{}\', $.x)","r":"${Fn}"}';
    expect(substitutePlaceholders(definition, { Fn: "arn" })).toBe(
      '{"p.$":"$.links","q.$":"States.Format(\'{}\', $.x)","r":"arn"}',
    );
  });

  it("makes the real ASL valid JSON whose tasks call `sam local start-lambda` functions by logical id", () => {
    const asl = readFileSync(join(root, "statemachine/pipeline.asl.json"), "utf8");
    const definition = substitutePlaceholders(asl, localFunctionArns());
    expect(definition).not.toContain("${");
    const resources = [...definition.matchAll(/"Resource":\s*"([^"]+)"/g)].map((match) => match[1]);
    // ListLinks and Ingest both call the ingest function.
    expect([...new Set(resources)].sort()).toEqual([
      "arn:aws:lambda:us-east-1:123456789012:function:DeathsFunction",
      "arn:aws:lambda:us-east-1:123456789012:function:IngestFunction",
    ]);
    expect(() => JSON.parse(definition)).not.toThrow();
  });
});

describe("localFunctionArns", () => {
  it("uses the substitution names of template.yaml and the logical ids as function names", () => {
    expect(localFunctionArns("sa-east-1", "000000000000")).toEqual({
      IngestFunctionArn: "arn:aws:lambda:sa-east-1:000000000000:function:IngestFunction",
      DeathsFunctionArn: "arn:aws:lambda:sa-east-1:000000000000:function:DeathsFunction",
    });
  });
});

/**
 * A stand-in for Step Functions Local speaking the same JSON protocol, so main() is exercised end to end:
 * create-or-update, start, poll, and the history dump on failure.
 */
describe("main against a fake Step Functions endpoint", () => {
  const machineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:roadtoll-pipeline";
  const executionArn = "arn:aws:states:us-east-1:123456789012:execution:roadtoll-pipeline:run-1";
  let server: Server;
  let endpoint: string;
  let calls: { target: string; body: Record<string, unknown> }[];
  let existing: boolean;
  let finalStatus: "SUCCEEDED" | "FAILED" | "RUNNING";
  let polls: number;

  const respond = (target: string, body: Record<string, unknown>): Record<string, unknown> => {
    const now = Date.now() / 1000;
    switch (target) {
      case "ListStateMachines":
        return {
          stateMachines: existing
            ? [
                {
                  name: "roadtoll-pipeline",
                  stateMachineArn: machineArn,
                  type: "STANDARD",
                  creationDate: now,
                },
              ]
            : [],
        };
      case "CreateStateMachine":
      case "UpdateStateMachine":
        return { stateMachineArn: machineArn, creationDate: now, updateDate: now };
      case "StartExecution":
        return { executionArn, startDate: now };
      case "DescribeExecution":
        polls += 1;
        return {
          executionArn,
          stateMachineArn: machineArn,
          startDate: now,
          status: polls < 2 ? "RUNNING" : finalStatus,
          output: '{"status":"succeeded"}',
        };
      case "GetExecutionHistory":
        return {
          events: [
            {
              id: 1,
              timestamp: now,
              type: "ExecutionStarted",
              executionStartedEventDetails: { input: "{}" },
            },
            {
              id: 2,
              timestamp: now,
              type: "ExecutionFailed",
              executionFailedEventDetails: { error: "LinkFailed" },
            },
          ],
        };
      default:
        throw new Error(`unexpected ${target} ${JSON.stringify(body)}`);
    }
  };

  beforeAll(async () => {
    server = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk: Buffer) => {
        text += chunk.toString("utf8");
      });
      request.on("end", () => {
        const target = String(request.headers["x-amz-target"]).replace("AWSStepFunctions.", "");
        const body = JSON.parse(text || "{}") as Record<string, unknown>;
        calls.push({ target, body });
        response.writeHead(200, { "content-type": "application/x-amz-json-1.0" });
        response.end(JSON.stringify(respond(target, body)));
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.close();
    await once(server, "close");
  });

  beforeEach(() => {
    calls = [];
    existing = false;
    finalStatus = "SUCCEEDED";
    polls = 0;
    vi.spyOn(console, "log").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
  });

  const run = (...args: string[]) =>
    main([join(root, "events/pipeline.json"), "--endpoint", endpoint, "--poll-ms", "10", ...args], {});

  it("creates the state machine with the substituted ASL, runs the input file and exits 0", async () => {
    await expect(run()).resolves.toBe(0);
    expect(calls.map((call) => call.target)).toEqual([
      "ListStateMachines",
      "CreateStateMachine",
      "StartExecution",
      "DescribeExecution",
      "DescribeExecution",
    ]);
    const created = calls[1]?.body as { definition: string; name: string };
    expect(created.name).toBe("roadtoll-pipeline");
    expect(created.definition).toContain("function:IngestFunction");
    expect(created.definition).not.toContain("${");
    const started = calls[2]?.body as { input: string; stateMachineArn: string };
    expect(JSON.parse(started.input)).toEqual(
      JSON.parse(readFileSync(join(root, "events/pipeline.json"), "utf8")),
    );
    expect(started.stateMachineArn).toBe(machineArn);
  });

  it("updates a state machine left by an earlier run instead of failing on the name", async () => {
    existing = true;
    await expect(run()).resolves.toBe(0);
    expect(calls.map((call) => call.target)).toContain("UpdateStateMachine");
    expect(calls.map((call) => call.target)).not.toContain("CreateStateMachine");
  });

  it("prints the history and exits 1 when the execution fails", async () => {
    finalStatus = "FAILED";
    await expect(run()).resolves.toBe(1);
    expect(calls.at(-1)?.target).toBe("GetExecutionHistory");
    const printed = vi.mocked(console.error).mock.calls.flat().join("\n");
    expect(printed).toContain("execution FAILED");
    expect(printed).toContain("ExecutionFailed");
    expect(printed).toContain("LinkFailed");
  });

  it("prints its usage for --help without calling anything, and exits 2 on an unknown option", async () => {
    await expect(main(["--help"], {})).resolves.toBe(0);
    expect(vi.mocked(console.log).mock.calls.flat().join("\n")).toContain("--deadline-seconds N");
    await expect(main(["--nope"], {})).resolves.toBe(2);
    expect(vi.mocked(console.error).mock.calls.flat().join("\n")).toMatch(
      /Unknown option '--nope'[\s\S]*usage:/,
    );
    expect(calls).toEqual([]);
  });

  it("gives up at the deadline, prints the history and exits 1", async () => {
    finalStatus = "RUNNING";
    await expect(run("--deadline-seconds", "0.2")).resolves.toBe(1);
    expect(vi.mocked(console.error).mock.calls.flat().join("\n")).toContain("still RUNNING after 0.2 s");
  });
});
