import type { Logger } from "@aws-lambda-powertools/logger";
import { redactUrls, redactUrlsInText } from "../adapters/redact.js";
import { executionOf } from "../contracts/events.js";
import { isRoadtollError } from "../errors.js";
import { logger as lambdaLogger } from "./logger.js";
import type { StepMetrics } from "./metrics.js";

/**
 * The part of the Lambda context Powertools logs (the request id above all); absent when a handler is called
 * directly (tests, the local runner). `@types/aws-lambda` is not a dependency.
 */
export interface InvocationContext {
  awsRequestId: string;
  functionName?: string;
  functionVersion?: string;
  invokedFunctionArn?: string;
  memoryLimitInMB?: string;
}

/**
 * Wraps a handler with one structured log line per invocation: what it was asked (debug), how long it took and
 * what came out (info), or the error's stable name and location (error). The error is rethrown unchanged, so
 * Step Functions still sees its `name`.
 *
 * Each line carries the Lambda context (request id, cold start) through Powertools' `addContext`, what its
 * `injectLambdaContext` decorator does for a class method, and the Step Functions execution (the event's
 * `execution`) as `correlation_id`. Events and results are small by design (keys and counts); a link in them
 * may carry a credential or a token, so they are logged with every URL redacted (adapters/redact.ts), and the
 * logger redacts every URL in every line once more as it writes it (logger.ts).
 *
 * With `metrics`, the invocation's figures (or its error's name) are flushed as EMF lines before it returns
 * or throws, as Powertools' `logMetrics` does: Lambda may freeze the environment right after.
 */
export function instrument<R>(
  step: string,
  handler: (event: unknown) => Promise<R>,
  logger: Logger = lambdaLogger,
  metrics?: StepMetrics<R>,
): (event: unknown, context?: InvocationContext) => Promise<R> {
  // A metric that cannot be written must never turn a run's outcome into another one.
  const measure = (what: string, record: () => void): void => {
    try {
      record();
    } catch (error) {
      logger.warn({ message: `metrics: ${what} not recorded`, step, error: redactUrlsInText(String(error)) });
    }
  };
  return async (event, context) => {
    const started = Date.now();
    logger.refreshSampleRateCalculation();
    if (context) logger.addContext(context as Parameters<Logger["addContext"]>[0]);
    const execution = executionOf(event);
    if (execution !== undefined) logger.setCorrelationId(execution);
    try {
      logger.debug({ message: "invocation", step, event: redactUrls(event) });
      const result = await handler(event);
      if (metrics) measure("run figures", () => metrics.succeeded(result));
      logger.info({
        message: "succeeded",
        step,
        durationMs: Date.now() - started,
        result: redactUrls(result),
      });
      return result;
    } catch (error) {
      if (metrics) measure("error", () => metrics.failed(error));
      logger.error({
        message: "failed",
        step,
        durationMs: Date.now() - started,
        error:
          error instanceof Error
            ? { name: error.name, message: redactUrlsInText(error.message) }
            : redactUrlsInText(String(error)),
        ...(isRoadtollError(error) && error.where ? { where: redactUrls(error.where) } : {}),
        event: redactUrls(event),
      });
      throw error;
    } finally {
      if (metrics) measure("flush", () => metrics.flush());
      // The correlation id belongs to this invocation only; the next one sets its own (or none).
      logger.resetKeys();
    }
  };
}
