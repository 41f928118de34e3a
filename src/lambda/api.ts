import { openObjectStore } from "../adapters/object-store.js";
import { createSfnClient, stepFunctionsExecutions } from "../adapters/step-functions.js";
import { createApi } from "../api/create-api.js";
import { loadApiConfig, loadStorageConfig } from "../config.js";
import { createApiHandler, withoutCredentials } from "../handlers/api-handler.js";
import { type InvocationContext, instrument } from "./instrument.js";
import { logger } from "./logger.js";

// Cold start: configuration is validated and clients are created once, then reused by every invocation.
const storage = loadStorageConfig();
const config = loadApiConfig();
const store = openObjectStore(storage);
const executions = stepFunctionsExecutions(
  createSfnClient({ region: storage.region }),
  config.stateMachineArn,
);

const instrumented = instrument(
  "api",
  createApiHandler(
    createApi({
      executions,
      store,
      uploadUrlTtlSeconds: config.uploadUrlTtlSeconds,
      uploadMaxBytes: config.uploadMaxBytes,
      // A 5xx says nothing of its cause to the caller; the log has it (URLs redacted by the logger).
      onError: (error) =>
        logger.error({
          message: "request failed",
          error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
        }),
    }),
  ),
);

/** Headers and authorizer claims never reach the handler, or its log lines. */
export const handler = (event: unknown, context?: InvocationContext) =>
  instrumented(withoutCredentials(event), context);
