import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalExecutions } from "./local-executions.js";
import type { ExecutionOutcome } from "./state-machine.js";

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "roadtoll-executions-"));
});
afterEach(() => rm(directory, { recursive: true, force: true }));

/** A runner whose executions finish when the test says so, each with the outcome given then. */
function controlledRunner() {
  const pending = new Map<string, (outcome: ExecutionOutcome) => void>();
  const running: string[] = [];
  return {
    running,
    finish: (id: string, outcome: ExecutionOutcome = { status: "SUCCEEDED", output: { id } }) => {
      running.splice(running.indexOf(id), 1);
      pending.get(id)?.(outcome);
    },
    run: (_input: unknown, arn: string) =>
      new Promise<ExecutionOutcome>((resolve) => {
        const id = arn.split(":").at(-1) as string;
        running.push(id);
        pending.set(id, resolve);
      }),
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe("LocalExecutions", () => {
  it("runs at most `concurrency` executions at once; the others wait in order, and are RUNNING to the API", async () => {
    const runner = controlledRunner();
    const events: string[] = [];
    const executions = new LocalExecutions({
      directory,
      run: runner.run,
      concurrency: 2,
      onChange: (event, run) =>
        events.push(`${run.id} ${event}${event === "stopped" ? ` ${run.status}` : ""}`),
    });
    for (const id of ["a", "b", "c", "d"]) await executions.start(id, { all: true });
    await settle();
    expect(runner.running).toEqual(["a", "b"]);
    expect((await executions.describe("c"))?.status).toBe("RUNNING");
    expect(executions.active).toBe(4);
    runner.finish("b", { status: "FAILED", error: "DownloadError", cause: "HTTP 404" });
    await settle();
    expect(runner.running).toEqual(["a", "c"]);
    runner.finish("a");
    await settle();
    runner.finish("c");
    await settle();
    runner.finish("d");
    await executions.idle();
    expect(events).toEqual([
      "a started",
      "b started",
      "c queued",
      "d queued",
      "b stopped FAILED",
      "c started",
      "a stopped SUCCEEDED",
      "d started",
      "c stopped SUCCEEDED",
      "d stopped SUCCEEDED",
    ]);
    expect(await executions.describe("b")).toMatchObject({
      status: "FAILED",
      error: { error: "DownloadError", cause: "HTTP 404" },
    });
    expect(executions.active).toBe(0);
  });

  it("runs one in the foreground, gives its outcome and keeps its description; a runner that throws fails it", async () => {
    const executions = new LocalExecutions({
      directory,
      run: async (input) => {
        if ("all" in input) throw new TypeError("the runner broke");
        return { status: "SUCCEEDED", output: { ok: true } };
      },
    });
    expect(await executions.run("fine", { links: [{ source: "x" }] })).toEqual({
      status: "SUCCEEDED",
      output: { ok: true },
    });
    expect(await executions.describe("fine")).toMatchObject({ status: "SUCCEEDED", output: { ok: true } });
    expect(await executions.run("broken", { all: true })).toMatchObject({
      status: "FAILED",
      error: "TypeError",
    });
    expect(await executions.describe("broken")).toMatchObject({
      status: "FAILED",
      error: { error: "TypeError", cause: "the runner broke" },
    });
    await expect(executions.run("fine", { all: true })).rejects.toThrow(/exists already/);
  });
});
