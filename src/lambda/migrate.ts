import * as z from "zod";
import { loadAppUserConfig, loadDatabaseConfig } from "../config.js";
import { checkDatabase, createDatabase, describeDatabase, readDatabaseSecret } from "../db/database.js";
import { type PreparedDatabase, prepareDatabase } from "../db/prepare.js";
import type { InvocationContext } from "./instrument.js";
import { logger } from "./logger.js";

/**
 * Applies database migrations as a CloudFormation custom resource (`Custom::Migrations` in template.yaml), so
 * every deploy that changes the resource's properties migrates before the state machine can run. Invoked
 * directly (`{}` or `{"action":"migrate"}`, e.g. from `sam local invoke`) it migrates and returns the report.
 */

export type MigrationReport = PreparedDatabase;

const cloudFormationEventSchema = z.object({
  RequestType: z.enum(["Create", "Update", "Delete"]),
  ResponseURL: z.url(),
  StackId: z.string().min(1),
  RequestId: z.string().min(1),
  LogicalResourceId: z.string().min(1),
  ResourceType: z.string().optional(),
  PhysicalResourceId: z.string().min(1).optional(),
  ResourceProperties: z.record(z.string(), z.unknown()).default({}),
  OldResourceProperties: z.record(z.string(), z.unknown()).optional(),
});

export type CloudFormationEvent = z.infer<typeof cloudFormationEventSchema>;

const directInvocationSchema = z.strictObject({ action: z.literal("migrate").optional() });

/** The body CloudFormation expects at the pre-signed ResponseURL. */
export interface CloudFormationResponse {
  Status: "SUCCESS" | "FAILED";
  Reason?: string;
  PhysicalResourceId: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  NoEcho: false;
  Data?: Record<string, string>;
}

export interface MigrationDeps {
  migrate: () => Promise<MigrationReport>;
  respond: (responseUrl: string, body: CloudFormationResponse) => Promise<void>;
  /**
   * Give up (and answer FAILED) after this long. It must be shorter than the Lambda timeout: a function killed
   * before it answers leaves CloudFormation waiting until the resource's ServiceTimeout.
   */
  timeoutMs?: number;
  /** Pointed to in the failure reason, because the stack events show only the first few hundred characters. */
  logStreamName?: string;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

// Reused for every resource of every stack. It must not change between Create and Update: a new physical id
// makes CloudFormation delete the "old" resource, which here would be a pointless extra invocation.
const PHYSICAL_RESOURCE_ID = "roadtoll-database-migrations";

// CloudFormation rejects response bodies above 4 KiB; Reason and Data are the parts that can grow.
const MAX_REASON_LENGTH = 1024;
const MAX_APPLIED_LENGTH = 2048;

export async function handleMigrationEvent(
  event: unknown,
  deps: MigrationDeps,
): Promise<MigrationReport | CloudFormationResponse> {
  if (event === null || event === undefined || directInvocationSchema.safeParse(event).success) {
    return withTimeout(deps.migrate(), deps.timeoutMs);
  }

  const parsed = cloudFormationEventSchema.safeParse(event);
  if (!parsed.success) {
    const reason = `invalid custom resource event: ${z.prettifyError(parsed.error)}`;
    const fallback = minimalEvent(event);
    // Answering FAILED when at all possible keeps a malformed request from hanging the stack for an hour.
    if (fallback) return send(deps, fallback, failure(fallback, reason, deps.logStreamName));
    throw new TypeError(reason);
  }

  const request = parsed.data;
  if (request.RequestType === "Delete") {
    // Dropping the schema would destroy the data, and a rollback of a failed Create also arrives as a Delete.
    return send(deps, request, success(request, {}));
  }

  try {
    const report = await withTimeout(deps.migrate(), deps.timeoutMs);
    return send(
      deps,
      request,
      success(request, {
        AppliedCount: String(report.applied.length),
        Applied: report.applied.join(","),
        ...(report.appUser ? { AppUser: report.appUser } : {}),
      }),
    );
  } catch (error) {
    return send(deps, request, failure(request, describe(error), deps.logStreamName));
  }
}

type ResponseTarget = Pick<
  CloudFormationEvent,
  "ResponseURL" | "StackId" | "RequestId" | "LogicalResourceId" | "PhysicalResourceId"
>;

async function send(
  deps: MigrationDeps,
  target: ResponseTarget,
  body: CloudFormationResponse,
): Promise<CloudFormationResponse> {
  // The ResponseURL is a pre-signed S3 URL, effectively a credential, so it is never logged.
  const { Status, Reason, LogicalResourceId, RequestId } = body;
  deps.log?.("custom resource response", { Status, Reason, LogicalResourceId, RequestId });
  await deps.respond(target.ResponseURL, body);
  return body;
}

function success(target: ResponseTarget, data: Record<string, string>): CloudFormationResponse {
  return { ...identity(target), Status: "SUCCESS", Data: fitData(data) };
}

function failure(
  target: ResponseTarget,
  reason: string,
  logStreamName: string | undefined,
): CloudFormationResponse {
  const where = logStreamName ? ` (log stream ${logStreamName})` : "";
  return { ...identity(target), Status: "FAILED", Reason: truncate(`${reason}${where}`, MAX_REASON_LENGTH) };
}

function identity(target: ResponseTarget) {
  return {
    PhysicalResourceId: target.PhysicalResourceId ?? PHYSICAL_RESOURCE_ID,
    StackId: target.StackId,
    RequestId: target.RequestId,
    LogicalResourceId: target.LogicalResourceId,
    NoEcho: false as const,
  };
}

/** A long migration list would push the body past 4 KiB; the count always fits, the names when they can. */
function fitData(data: Record<string, string>): Record<string, string> {
  const applied = data.Applied;
  if (applied !== undefined && applied.length > MAX_APPLIED_LENGTH) {
    return { ...data, Applied: truncate(applied, MAX_APPLIED_LENGTH) };
  }
  return data;
}

function minimalEvent(event: unknown): ResponseTarget | undefined {
  const loose = z
    .object({
      ResponseURL: z.url(),
      StackId: z.string().min(1),
      RequestId: z.string().min(1),
      LogicalResourceId: z.string().min(1),
      PhysicalResourceId: z.string().min(1).optional(),
    })
    .safeParse(event);
  return loose.success ? loose.data : undefined;
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

async function withTimeout<T>(work: Promise<T>, timeoutMs: number | undefined): Promise<T> {
  if (timeoutMs === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`migrations did not finish within ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * PUTs the response to the pre-signed S3 URL. The empty Content-Type is part of the signature CloudFormation
 * made, and a few retries cover the S3 blips that would otherwise leave the stack waiting.
 */
export async function putResponse(
  responseUrl: string,
  body: CloudFormationResponse,
  attempts = 3,
): Promise<void> {
  const payload = JSON.stringify(body);
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      const response = await fetch(responseUrl, {
        method: "PUT",
        headers: { "content-type": "" },
        body: payload,
        signal: AbortSignal.timeout(10_000),
      });
      if (response.ok) return;
      lastError = new Error(`response upload failed with HTTP ${response.status}: ${await response.text()}`);
      // 4xx means the URL expired or the signature does not match; repeating the request cannot fix either.
      if (response.status < 500) break;
    } catch (error) {
      lastError = error;
    }
    if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
  }
  throw lastError;
}

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
