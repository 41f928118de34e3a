import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { answerS3Error, closeFront, parseS3Request, type S3Operation } from "./s3-requests.js";

export type { S3Operation };

/**
 * What a matching request gets instead of S3's answer:
 * - `InternalError`: 500 with S3's XML error body;
 * - `SlowDown`: 503 with S3's XML error body (S3's throttling answer);
 * - `reset`: the connection is destroyed before any answer, as a load balancer or a broken network does;
 * - `stall`: no answer at all, until the client gives up and closes the connection;
 * - `cut-body`: the request is forwarded, the answer's status and headers too (its Content-Length included),
 *   then the connection is destroyed after `afterBytes` bytes of the body.
 */
export type Fault =
  | { kind: "InternalError" }
  | { kind: "SlowDown" }
  | { kind: "reset" }
  | { kind: "stall" }
  | { kind: "cut-body"; afterBytes: number };

export interface FaultRule {
  operation: S3Operation;
  /** Only requests for keys starting with this. */
  keyPrefix?: string;
  /** How many matching requests get the fault, counted from the rule's injection; later ones are forwarded. */
  times: number;
  fault: Fault;
}

export interface SeenRequest {
  operation: S3Operation;
  key: string;
  /** The fault it got, or undefined when it was forwarded untouched. */
  fault: Fault["kind"] | undefined;
}

export interface FaultyS3 {
  /** Point the S3 client here instead of at the real server. */
  endpoint: string;
  inject(rule: FaultRule): void;
  /** Drops every rule and forgets the requests seen. */
  reset(): void;
  /** Every request, in order of arrival. */
  readonly requests: readonly SeenRequest[];
  /** Requests not yet answered or given up on, stalled ones included. */
  inFlight(): number;
  /** Whether, within `withinMs`, a moment comes when no request has been in flight for `quietMs`. */
  idle(quietMs: number, withinMs: number): Promise<boolean>;
  /** Requests for one operation (and key prefix), with a given fault, or forwarded (`null`), or all (omitted). */
  count(operation: S3Operation, options?: { keyPrefix?: string; fault?: Fault["kind"] | null }): number;
  close(): Promise<void>;
}

const ERRORS = {
  InternalError: { status: 500, message: "We encountered an internal error. Please try again." },
  SlowDown: { status: 503, message: "Please reduce your request rate." },
} as const;

/**
 * A small HTTP front on 127.0.0.1 for an S3-compatible server: it forwards every request as is (bodies streamed
 * both ways, headers untouched, so SigV4 signatures still hold), except those a rule matches, which get the rule's
 * fault. Tests use it to see what the real S3 client and the pipeline do when S3 misbehaves.
 */
export async function startFaultyS3(upstream: string): Promise<FaultyS3> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  let rules: Array<FaultRule & { remaining: number }> = [];
  let requests: SeenRequest[] = [];
  let inFlight = 0;
  let lastActivity = Date.now();

  const server = createServer((incoming, outgoing) => {
    inFlight++;
    lastActivity = Date.now();
    outgoing.once("close", () => {
      inFlight--;
      lastActivity = Date.now();
    });
    const { operation, key } = parseS3Request(incoming);
    const rule = rules.find(
      (candidate) =>
        candidate.remaining > 0 &&
        candidate.operation === operation &&
        key.startsWith(candidate.keyPrefix ?? ""),
    );
    if (rule) rule.remaining--;
    const fault = rule?.fault;
    requests.push({ operation, key, fault: fault?.kind });

    if (fault?.kind === "reset") {
      incoming.socket.destroy();
    } else if (fault?.kind === "stall") {
      incoming.resume();
    } else if (fault?.kind === "InternalError" || fault?.kind === "SlowDown") {
      // Read the request to its end first, as S3 does, so the client sees the answer rather than a write error.
      incoming.resume();
      incoming.once("end", () =>
        answerS3Error(
          outgoing,
          ERRORS[fault.kind].status,
          fault.kind,
          ERRORS[fault.kind].message,
          incoming.url ?? "/",
        ),
      );
    } else {
      forward(incoming, outgoing, fault?.kind === "cut-body" ? fault.afterBytes : undefined);
    }
  });

  function forward(incoming: IncomingMessage, outgoing: ServerResponse, cutAfter: number | undefined): void {
    const headers = { ...incoming.headers };
    // This front already said 100 Continue to the client (Node does, by default); the body follows as it comes.
    delete headers.expect;
    const toUpstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers,
        agent,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        if (cutAfter === undefined) {
          answer.pipe(outgoing);
          return;
        }
        let sent = 0;
        answer.on("data", (chunk: Buffer) => {
          if (sent + chunk.length < cutAfter) {
            sent += chunk.length;
            if (!outgoing.write(chunk)) {
              answer.pause();
              outgoing.once("drain", () => answer.resume());
            }
            return;
          }
          // The bytes before the cut reach the client, then the connection goes.
          answer.destroy();
          outgoing.write(chunk.subarray(0, cutAfter - sent), () => outgoing.socket?.destroy());
          sent = cutAfter;
        });
        // A body shorter than the cut point goes through whole.
        answer.on("end", () => outgoing.end());
      },
    );
    toUpstream.on("error", () => outgoing.socket?.destroy());
    // A client that gives up (an aborted upload, say) gives up on the server too, as it would without the front.
    outgoing.once("close", () => {
      if (!outgoing.writableFinished) toUpstream.destroy();
    });
    incoming.pipe(toUpstream);
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    inject: (rule) => {
      rules.push({ ...rule, remaining: rule.times });
    },
    reset: () => {
      rules = [];
      requests = [];
    },
    get requests() {
      return requests;
    },
    inFlight: () => inFlight,
    idle: async (quietMs, withinMs) => {
      const deadline = Date.now() + withinMs;
      while (Date.now() < deadline) {
        if (inFlight === 0 && Date.now() - lastActivity >= quietMs) return true;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return false;
    },
    count: (operation, options = {}) =>
      requests.filter(
        (seen) =>
          seen.operation === operation &&
          seen.key.startsWith(options.keyPrefix ?? "") &&
          (options.fault === undefined || seen.fault === (options.fault ?? undefined)),
      ).length,
    close: () => closeFront(server, agent),
  };
}
