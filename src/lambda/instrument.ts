import * as z from "zod";
import { redactUrls } from "../adapters/redact.js";
import { isRoadtollError } from "../errors.js";

const LEVELS = ["debug", "info", "warn", "error"] as const;
type Level = (typeof LEVELS)[number];

/** Read once per cold start, like the rest of the configuration. */
const threshold: Level = z.enum(LEVELS).catch("info").parse(process.env.LOG_LEVEL);

/** The part of the Lambda context we log; absent when a handler is called directly (tests, local runner). */
interface InvocationContext {
  awsRequestId?: string;
}

function log(level: Level, fields: Record<string, unknown>): void {
  if (LEVELS.indexOf(level) < LEVELS.indexOf(threshold)) return;
  // One JSON object per line: CloudWatch Logs Insights can query every field. Links are shown redacted.
  const line = JSON.stringify({ level, time: new Date().toISOString(), ...(redactUrls(fields) as object) });
  if (level === "error" || level === "warn") console.error(line);
  else console.log(line);
}

/**
 * Wraps a handler with one structured log line per invocation: what it was asked, how long it took, and what
 * came out, or the error's stable name and location. The error is rethrown unchanged, so Step Functions still
 * sees its `name`. Events and results are small by design (keys and counts); a link in them may carry a
 * credential or a token, so every URL is logged redacted (adapters/redact.ts).
 */
export function instrument<R>(
  step: string,
  handler: (event: unknown) => Promise<R>,
): (event: unknown, context?: InvocationContext) => Promise<R> {
  return async (event, context) => {
    const started = Date.now();
    const requestId = context?.awsRequestId;
    log("debug", { step, requestId, message: "invocation", event });
    try {
      const result = await handler(event);
      log("info", { step, requestId, message: "succeeded", durationMs: Date.now() - started, result });
      return result;
    } catch (error) {
      log("error", {
        step,
        requestId,
        message: "failed",
        durationMs: Date.now() - started,
        error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
        ...(isRoadtollError(error) && error.where ? { where: error.where } : {}),
        event,
      });
      throw error;
    }
  };
}
