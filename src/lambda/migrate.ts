// First: stack traces read the bundle's source map only when one is formatted (source-map-stacks.ts).
import "./source-map-stacks.js";
import type { CloudFormationResponse } from "../adapters/cloudformation-response.js";
import { putResponse } from "../adapters/cloudformation-response.js";
import { loadAppUserConfig, loadDatabaseConfig } from "../config.js";
import { checkDatabase, createDatabase, describeDatabase, readDatabaseSecret } from "../db/database.js";
import { type PreparedDatabase, prepareDatabase } from "../db/prepare.js";
import { handleMigrationEvent, type MigrationReport } from "../handlers/migrate-handler.js";
import type { InvocationContext } from "./instrument.js";
import { logger } from "./logger.js";

// The migrations custom resource (handlers/migrate-handler.ts), bound to the database and logger of this function.

type Connection = Awaited<ReturnType<typeof createDatabase>>;

// Opened on first use rather than at import so a Delete never needs the database (it may already be gone), and
// kept for the life of the execution environment. A failed attempt is forgotten so the next invocation retries.
let connection: Promise<Connection> | undefined;

function database(): Promise<Connection> {
  connection ??= createDatabase(loadDatabaseConfig()).catch((error: unknown) => {
    connection = undefined;
    throw error;
  });
  return connection;
}

/**
 * Waits briefly for a database that is starting (a new stack's instance may just have become available), then
 * migrates as the administrator and makes the functions' own login user from its secret.
 */
async function migrateDatabase(log: (line: string) => void): Promise<PreparedDatabase> {
  const config = loadDatabaseConfig();
  const appUser = loadAppUserConfig();
  const db = await database();
  await checkDatabase(db, describeDatabase(config), { delaysMs: [1_000, 2_000, 4_000, 8_000] });
  return prepareDatabase(db, {
    log,
    ...(appUser ? { appUser: () => readDatabaseSecret(appUser.secretArn, appUser.region) } : {}),
  });
}

/** The subset of the Lambda context this handler reads; `@types/aws-lambda` is not a dependency. */
interface LambdaContext extends Partial<InvocationContext> {
  logStreamName?: string;
  getRemainingTimeInMillis?: () => number;
}

// Time kept back from the Lambda timeout to send the FAILED response before the runtime is frozen.
const RESPONSE_MARGIN_MS = 15_000;

export const handler = async (
  event: unknown,
  context?: LambdaContext,
): Promise<MigrationReport | CloudFormationResponse> => {
  const remaining = context?.getRemainingTimeInMillis?.();
  // Its lines go through the functions' logger: JSON, with the request id and cold start, URLs redacted.
  if (context?.awsRequestId) logger.addContext({ ...context, awsRequestId: context.awsRequestId });
  return handleMigrationEvent(event, {
    migrate: async () => migrateDatabase((line) => logger.info(line)),
    respond: putResponse,
    log: (message, fields) => logger.info({ message, ...fields }),
    timeoutMs: remaining === undefined ? undefined : Math.max(remaining - RESPONSE_MARGIN_MS, 1_000),
    logStreamName: context?.logStreamName,
  });
};
