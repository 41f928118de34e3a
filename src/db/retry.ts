import { setTimeout as sleep } from "node:timers/promises";
import { RoadtollError } from "../errors.js";

/**
 * Whether a retry can succeed, judged by codes only: SQLSTATE classes 08 (connection exception), 53
 * (insufficient resources), 57 (operator intervention: shutdown, restart) and 40 (transaction rollback:
 * serialisation failure, deadlock), and Node's socket error codes. A constraint or syntax error fails the
 * same way every time, so it is not retried.
 *
 * pg and pg-pool raise a lost connection without any code ("Connection terminated unexpectedly", a connect
 * timeout); those are matched by their exact wording, which is part of pg's behaviour, never by guessing at
 * arbitrary messages.
 */
export function isTransientDatabaseFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") {
    const message = error instanceof Error ? error.message : String(error);
    return CONNECTION_LOST.test(message);
  }
  if (/^(08|53|57|40)[0-9A-Z]{3}$/.test(code)) return true;
  return SOCKET_CODES.has(code);
}

const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** How pg and pg-pool word a lost or impossible connection when they give no code. */
const CONNECTION_LOST =
  /^(connection terminated|timeout exceeded when trying to connect|client has encountered a connection error and is not queryable|connection error)/i;

export interface RetryPolicy {
  /** Pauses between attempts; one more attempt than pauses. */
  delaysMs: readonly number[];
}

/**
 * A blip (a failover, a restart, a connection cut) is absorbed inside the step, quickly; a longer outage fails
 * the step with DatabaseUnavailableError, which the state machine retries with its own, longer backoff.
 */
export const DEFAULT_RETRY: RetryPolicy = { delaysMs: [250, 1_000] };

/**
 * Runs `operation` again after a pause while it fails transiently, then gives up with the last error. Only
 * operations that are safe to repeat belong here: one transaction that replaces what it writes, a `select 1`,
 * a migration run (Kysely's migrator records each step in the same transaction as the step).
 */
export async function retryTransient<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation(attempt);
    } catch (error) {
      const pause = policy.delaysMs[attempt - 1];
      if (pause === undefined || !isTransientDatabaseFailure(error)) throw error;
      await sleep(pause);
    }
  }
}

/**
 * The error a step raises for a database failure: DatabaseUnavailableError when a later retry may succeed
 * (the state machine retries it), DatabaseError otherwise. Errors already named by roadtoll pass through.
 */
export function databaseFailure(error: unknown, doing: string): RoadtollError {
  if (error instanceof RoadtollError) return error;
  const transient = isTransientDatabaseFailure(error);
  const detail = error instanceof Error ? error.message || error.name : String(error);
  return new RoadtollError(transient ? "DatabaseUnavailableError" : "DatabaseError", `${doing}: ${detail}`, {
    cause: error,
  });
}
