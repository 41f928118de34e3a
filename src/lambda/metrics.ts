import type { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { isRoadtollError } from "../errors.js";
import type { LinkList } from "../handlers/list-links-handler.js";
import type { CuratedResult } from "../handlers/publish-curated-handler.js";
import type { DeathsResult } from "../pipeline/deaths-step.js";
import type { IngestOutcome } from "../pipeline/ingest-link.js";

/**
 * CloudWatch metrics for each run, as Embedded Metric Format lines on stdout: CloudWatch Logs turns them into
 * metrics, so the functions need no PutMetricData permission and no network path to CloudWatch (the deaths
 * function's VPC has none). template.yaml's dashboard plots exactly the names below.
 */
export const METRICS_NAMESPACE = "roadtoll";

/** Per-run figures, read from the handler's typed result (domain and pipeline code know nothing of metrics). */
export const RUN_METRICS = {
  RowsRead: MetricUnit.Count,
  RowsAccepted: MetricUnit.Count,
  RowsRejected: MetricUnit.Count,
  Deaths: MetricUnit.Count,
  BytesIngested: MetricUnit.Bytes,
  IngestUnchanged: MetricUnit.Count,
} as const;
export type RunMetricName = keyof typeof RUN_METRICS;
export type Measures = Partial<Record<RunMetricName, number>>;

/** One count per failed invocation, its `error` dimension the error's stable name. */
export const ERROR_METRIC = "Errors";
export const ERROR_DIMENSION = "error";
/** Catch-all for anything not a RoadtollError, so the `error` dimension stays a closed set (ErrorName). */
export const UNEXPECTED_ERROR = "UnexpectedError";
/**
 * Besides Powertools' `service` (the step), each series carries the Lambda function's name: two stacks in one
 * account (dev and prod) then never add up in one series. Both identify the function, so there is one series per
 * function and metric; a `source` dimension would make one per source (a custom metric each, billed monthly)
 * for figures the database and the run summaries already hold per source. The source goes in as metadata.
 */
export const FUNCTION_DIMENSION = "function_name";

/** Rebuilding curated/ is no run of a source: it measures nothing (its failures still count under Errors). */
export function deathsMeasures(result: DeathsResult | CuratedResult): Measures {
  if ("report" in result) return {};
  return {
    RowsRead: result.rowsRead,
    RowsAccepted: result.rowsAccepted,
    RowsRejected: result.rowsRejected,
    Deaths: result.totalDeaths,
  };
}

/** An unchanged source counts 1 and an ingested one 0, so the sum is the runs skipped and the average the share. */
export function ingestMeasures(result: IngestOutcome | LinkList): Measures {
  if ("links" in result) return {};
  if (result.status === "unchanged") return { IngestUnchanged: 1 };
  return { BytesIngested: result.bytes, IngestUnchanged: 0 };
}

export function errorName(error: unknown): string {
  return isRoadtollError(error) ? error.name : UNEXPECTED_ERROR;
}

/** What `instrument` tells the metrics about an invocation; `flush` runs whatever the outcome. */
export interface StepMetrics<R> {
  succeeded(result: R): void;
  failed(error: unknown): void;
  flush(): void;
}

export interface StepMetricsOptions {
  env?: NodeJS.ProcessEnv;
  /** Powertools' own warnings go through it, as JSON lines like every other line the function writes. */
  logger?: Logger;
}

/**
 * Made once per module at cold start, like the logger: the namespace (`POWERTOOLS_METRICS_NAMESPACE`, default
 * `roadtoll`) and the function's name are read then. `POWERTOOLS_METRICS_DISABLED=true` turns it off.
 */
export function createStepMetrics<R>(
  step: string,
  measure: (result: R) => Measures,
  options: StepMetricsOptions = {},
): StepMetrics<R> {
  const env = options.env ?? process.env;
  const functionName = env.AWS_LAMBDA_FUNCTION_NAME?.trim();
  const metrics = new Metrics({
    namespace: env.POWERTOOLS_METRICS_NAMESPACE?.trim() || METRICS_NAMESPACE,
    serviceName: step,
    ...(functionName ? { defaultDimensions: { [FUNCTION_DIMENSION]: functionName } } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return {
    succeeded(result) {
      for (const [name, value] of Object.entries(measure(result)) as Array<[RunMetricName, number]>) {
        metrics.addMetric(name, RUN_METRICS[name], value);
      }
      const source = sourceOf(result);
      if (source !== undefined) metrics.addMetadata("source", source);
    },
    failed(error) {
      // Its own EMF line: the extra dimension must not apply to the run's other figures.
      const single = metrics.singleMetric();
      single.addDimension(ERROR_DIMENSION, errorName(error));
      single.addMetric(ERROR_METRIC, MetricUnit.Count, 1);
    },
    flush() {
      // Powertools warns on an empty flush; listing the links measures nothing, and that is not worth a line.
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
}

/** A result's `source`: a name made safe for keys (keys.ts), never a URL. */
function sourceOf(result: unknown): string | undefined {
  if (typeof result !== "object" || result === null || !("source" in result)) return undefined;
  return typeof result.source === "string" ? result.source : undefined;
}
