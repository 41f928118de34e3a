import { Logger } from "@aws-lambda-powertools/logger";
import * as z from "zod";
import { redactUrlsInText } from "../adapters/redact.js";

const LEVELS = ["debug", "info", "warn", "error"] as const;
const DEFAULT_SERVICE = "roadtoll";

/**
 * Every string in every line passes through here as the line is serialised, whoever logged it: a link in an
 * event or result, or one quoted in a message (a library's error, a connection string), shows no user, password
 * or query value (adapters/redact.ts).
 */
function redactingReplacer(_key: string, value: unknown): unknown {
  return typeof value === "string" ? redactUrlsInText(value) : value;
}

/**
 * The Lambdas' logger: Powertools for AWS Lambda, one JSON object per line on stdout (debug, info) or stderr
 * (warn, error). Called once per module at cold start, like the rest of the configuration.
 *
 * - Level: `LOG_LEVEL` (or Powertools' own `POWERTOOLS_LOG_LEVEL`, which wins), `debug`, `info`, `warn` or
 *   `error` in any case; anything else means `info`. We read it here and hand it to the constructor because
 *   Powertools, reading the variables itself, ignores a lower-case value, and template.yaml passes `info`.
 *   `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's advanced logging controls, which the stack does not configure)
 *   would override both; Powertools then warns if it is less verbose.
 * - Service: `POWERTOOLS_SERVICE_NAME`, default `roadtoll`.
 */
export function createLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  const asked = env.POWERTOOLS_LOG_LEVEL || env.LOG_LEVEL;
  const level = z.enum(LEVELS).safeParse(asked?.trim().toLowerCase());
  const logger = new Logger({
    serviceName: env.POWERTOOLS_SERVICE_NAME?.trim() || DEFAULT_SERVICE,
    logLevel: level.success ? level.data : "info",
    jsonReplacerFn: redactingReplacer,
  });
  if (asked !== undefined && asked !== "" && !level.success) {
    logger.warn({ message: `LOG_LEVEL "${asked}" is not one of ${LEVELS.join(", ")}; logging at info` });
  }
  return logger;
}

/** Shared by the functions' modules: one per execution environment. */
export const logger = createLogger();
