/**
 * Fan-out at scale: a schedule over every source runs hundreds of links in one execution, and Step Functions refuses
 * any state input or output over 256 KiB (the execution fails with States.DataLimitExceeded). 200 links go through
 * statemachine/pipeline.asl.json on the local runner, the task handlers faked with results of realistic size (ANTT's
 * URLs, long source names, the deaths step's answer as runDeathsStep shapes it), and every state's input and output,
 * in and out of the Map, is measured.
 *
 * The design before this test: each link's result held the deaths step's full summary (~3 KB: worst roads, reject
 * samples) plus its link and redacted URL, ~3.2 KB; ProcessLinks added all of them to its input, and Tally kept the
 * list and its JSON string side by side, ~6.4 KB per link. 256 KiB / 6.4 KB ≈ 40 links: an execution over ~40-45
 * links failed in Tally; at 200 links Tally's output would have been ~1.3 MB, five times the limit.
 *
 * Now a link's result is its index, source, status, three counts and the key of its full summary in S3 (~210 bytes
 * here), the Map's output adds a list of statuses, and Tally adds one boolean: ~43 KB at 200 links. PublishCurated
 * adds the report's key and an object count (~50 bytes), whatever the number of sources it wrote files for.
 */
import { describe, expect, it } from "vitest";
import type { IngestResult } from "../src/contracts/events.js";
import type { CuratedResult } from "../src/handlers/publish-curated-handler.js";
import { runStateMachine, type StatePayload, type TaskHandler } from "../src/local/state-machine.js";
import { CURATED_REPORT_KEY } from "../src/pipeline/curated.js";
import type { DeathsResult } from "../src/pipeline/deaths-step.js";
import { summaryKey } from "../src/pipeline/keys.js";

const LINKS = 200;
/** Step Functions' limit on a state's input or output, and on an execution's input and output. */
const LIMIT = 256 * 1024;
/** "Far below": a quarter of it. */
const BUDGET = 64 * 1024;

const sourceOf = (index: number) => `Concessionaria_Rodovia_${String(index).padStart(3, "0")}`;
/** As long as ANTT's links (link.yml): ~165 characters. */
const urlOf = (index: number) =>
  `https://dados.antt.gov.br/dataset/ef0171a8-f0df-4817-a4ed-b4ff94d87194/resource/aa60ce3a-033a-4864-81dc-ae32bea866e5/download/demostrativo_acidentes_${String(index).padStart(3, "0")}.csv`;

function ingestResult(input: unknown): IngestResult {
  const { link, execution } = input as { link: { source: string }; execution?: string };
  const index = Number(link.source.slice(-3));
  const runId = `20260101T000000000Z-${index.toString(16).padStart(6, "0")}`;
  return {
    bucket: "roadtoll-data-123456789012-us-east-1",
    key: `clean/${link.source}/${runId}.csv`,
    rawKey: `raw/${link.source}/${runId}.csv`,
    source: link.source,
    url: urlOf(index),
    runId,
    bytes: 3_456_789,
    sha256: "f".repeat(64),
    cleanBytes: 4_012_345,
    rows: 45_801,
    encoding: "iso-8859-1",
    delimiter: ";",
    ingestedAt: "2026-01-01T00:00:00.000Z",
    ...(execution === undefined ? {} : { execution }),
  };
}

function deathsResult(input: unknown): DeathsResult {
  const ingest = input as IngestResult;
  return {
    message:
      `${ingest.source}: 12345 deaths on 12 roads from 45678 accidents; 123 rows rejected; ` +
      "worst road BR-116/BA (4567 deaths)",
    source: ingest.source,
    createdAt: ingest.ingestedAt,
    current: true,
    rowsRead: 45_801,
    rowsAccepted: 45_678,
    rowsRejected: 123,
    roads: 12,
    rowsWritten: 60,
    totalDeaths: 12_345,
    deathsByVehicle: { automovel: 8_000, bicicleta: 123, caminhao: 3_000, moto: 4_000, onibus: 456 },
    bucket: ingest.bucket,
    keys: {
      summary: summaryKey(ingest.source, ingest.runId, ingest.execution),
      rejects: `rejects/${ingest.source}/${ingest.runId}.csv`,
      clean: ingest.key,
    },
  };
}

/** PublishCurated's answer after 200 sources: the report's key and a count, never the 401 keys it wrote. */
const curatedResult = async (): Promise<CuratedResult> => ({
  report: CURATED_REPORT_KEY,
  objects: 1 + 2 * LINKS,
});

interface Measured {
  outcome: Awaited<ReturnType<typeof runStateMachine>>;
  largest: { state: string; type: string; bytes: number };
  states: Set<string>;
  payloads: number;
}

async function measure(tasks: Record<string, TaskHandler>): Promise<Measured> {
  const links = Array.from({ length: LINKS }, (_, index) => ({ source: sourceOf(index) }));
  let largest = { state: "", type: "", bytes: 0 };
  const states = new Set<string>();
  let payloads = 0;
  const onPayload = (payload: StatePayload) => {
    payloads += 1;
    states.add(payload.state);
    // Step Functions counts the UTF-8 bytes of the JSON.
    const bytes = Buffer.byteLength(JSON.stringify(payload.payload ?? null));
    if (bytes > largest.bytes) largest = { state: payload.state, type: payload.type, bytes };
  };
  const outcome = await runStateMachine({ input: { links }, tasks, retryIntervalMs: 0, onPayload });
  return { outcome, largest, states, payloads };
}

describe(`${LINKS} links through statemachine/pipeline.asl.json (local runner, faked tasks)`, () => {
  it(`keeps the output and every state's input and output under ${BUDGET / 1024} KiB, a quarter of Step Functions' 256 KiB`, async () => {
    const { outcome, largest, states, payloads } = await measure({
      Ingest: async (input) => ingestResult(input),
      ComputeDeaths: async (input) => deathsResult(input),
      PublishCurated: curatedResult,
    });
    expect(outcome.status).toBe("SUCCEEDED");
    const output = (
      outcome as {
        output: { results: Array<{ status: string; summary: { key: string } }>; curated: CuratedResult };
      }
    ).output;
    expect(output.results).toHaveLength(LINKS);
    expect(output.curated).toEqual({ report: CURATED_REPORT_KEY, objects: 1 + 2 * LINKS });
    expect(output.results.every((result) => result.status === "succeeded")).toBe(true);
    expect(output.results[7]?.summary.key).toMatch(/^runs\/[0-9a-f-]{36}\/Concessionaria_Rodovia_007\.json$/);
    // Each state on the way, and each one's input and output (the Map's, per link): nothing was left out.
    expect([...states]).toEqual(
      expect.arrayContaining([
        "Ingest",
        "ComputeDeaths",
        "LinkSucceeded",
        "ProcessLinks",
        "Tally",
        "PublishCurated",
        "CheckResults",
        "Report",
      ]),
    );
    expect(payloads).toBeGreaterThanOrEqual(2 * 3 * LINKS);
    expect(largest.bytes).toBeLessThan(BUDGET);
    expect(Buffer.byteLength(JSON.stringify(output))).toBeLessThan(BUDGET);
    // For the record (docs/performance.md): the largest payload, and how many links the limit would allow.
    console.log(
      `largest payload: ${largest.state} (${largest.type}) ${largest.bytes} bytes for ${LINKS} links, ` +
        `~${Math.round(largest.bytes / LINKS)} per link: the 256 KiB limit is reached at ~${Math.floor((LIMIT * LINKS) / largest.bytes)} links`,
    );
  });

  it("stays as small when links fail: every 10th link's ingest fails, the rest run, the cause lists them all", async () => {
    const { outcome, largest, states } = await measure({
      Ingest: async (input) => {
        const source = (input as { link: { source: string } }).link.source;
        if (Number(source.slice(-3)) % 10 === 0) {
          const error = new Error(`${urlOf(Number(source.slice(-3)))}: server answered HTTP 404 Not Found`);
          error.name = "DownloadError";
          throw error;
        }
        return ingestResult(input);
      },
      ComputeDeaths: async (input) => deathsResult(input),
      PublishCurated: curatedResult,
    });
    expect(outcome).toMatchObject({ status: "FAILED", error: "LinkFailed" });
    const cause = (outcome as { cause: string }).cause;
    // Every link is listed, each failure with its message.
    expect(cause.match(/"status":"failed"/g)).toHaveLength(LINKS / 10);
    expect(cause.match(/"status":"succeeded"/g)).toHaveLength(LINKS - LINKS / 10);
    expect(states).toContain("ListFailures");
    // Published all the same, before the failure is reported.
    expect(states).toContain("PublishCurated");
    expect(largest.bytes).toBeLessThan(BUDGET);
    // A failure's cause is limited to 32,768 characters (ExecutionFailedEventDetails): listing every link, it is
    // the first limit a failing execution meets (docs/performance.md).
    expect(cause.length).toBeLessThan(32_768);
    console.log(`failure cause: ${cause.length} characters for ${LINKS} links, ${LINKS / 10} failed`);
  });
});
