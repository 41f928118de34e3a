import * as z from "zod";
import type { CloudFormationResponse } from "../adapters/cloudformation-response.js";
import type { PreparedDatabase } from "../db/prepare.js";

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
