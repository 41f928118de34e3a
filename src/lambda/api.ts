// First: stack traces read the bundle's source map only when one is formatted (source-map-stacks.ts).
import "./source-map-stacks.js";
import { openObjectStore } from "../adapters/object-store.js";
import { createSfnClient, stepFunctionsExecutions } from "../adapters/step-functions.js";
import { createApiApp } from "../api/app.js";
import { loadApiConfig, loadStorageConfig } from "../config.js";
import { createApiLambdaHandler, withoutCredentials } from "./api-event.js";
import { type InvocationContext, instrument } from "./instrument.js";
import { logger } from "./logger.js";

// Cold start: configuration is validated and clients are created once, then reused by every invocation.
const storage = loadStorageConfig();
const config = loadApiConfig();
const app = createApiApp({
  executions: stepFunctionsExecutions(createSfnClient({ region: storage.region }), config.stateMachineArn),
  store: openObjectStore(storage),
  uploadUrlTtlSeconds: config.uploadUrlTtlSeconds,
  uploadMaxBytes: config.uploadMaxBytes,
  // A 5xx says nothing of its cause to the caller; the log has it (URLs redacted by the logger).
  onError: (error) =>
    logger.error({
      message: "request failed",
      error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
    }),
});
const instrumented = instrument("api", createApiLambdaHandler(app));

/** Credentials (headers, cookies, authorizer claims) never reach the app, or its log lines. */
export const handler = (event: unknown, context?: InvocationContext) =>
  instrumented(withoutCredentials(event), context);
