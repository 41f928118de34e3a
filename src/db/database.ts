import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { Kysely, PostgresDialect, type PostgresPool, sql } from "kysely";
import pg from "pg";
import * as z from "zod";
import { RoadtollError } from "../errors.js";
import { pgTypes } from "./int8.js";
import { DEFAULT_RETRY, databaseFailure, type RetryPolicy, retryTransient } from "./retry.js";
import type { Database } from "./schema.js";

/**
 * Where Postgres is. A URL is for development and CI; in AWS the credentials live only in Secrets Manager, so
 * the function gets the secret's ARN and the endpoint, never a password.
 */
export type DatabaseConfig =
  | { kind: "url"; url: string }
  | {
      kind: "secret";
      secretArn: string;
      host: string;
      port: number;
      database: string;
      ssl: boolean;
      region: string;
    };

/** The JSON RDS writes into a managed secret, and the app user's secret too (only the fields we use). */
const secretSchema = z.object({ username: z.string().min(1), password: z.string().min(1) });
export type DatabaseCredentials = z.infer<typeof secretSchema>;

/** Reads a secret's current value; a seam so rotation can be tested without AWS. */
export type SecretReader = (secretArn: string, region: string) => Promise<DatabaseCredentials>;

export interface DatabaseOptions {
  readSecret?: SecretReader;
}

/** SQLSTATE 28P01 invalid_password, 28000 invalid_authorization_specification. */
const AUTH_FAILURE = /^28(P01|000)$/;

/**
 * Opens Postgres through `pg`. With a secret, the credentials are read on first connection and kept; when the
 * server refuses them (the secret was rotated), they are read again and the connection retried once, so a
 * rotation never leaves a warm Lambda failing until its container dies. Nothing here logs a credential.
 * A Lambda handles one event at a time, so one or two connections are enough.
 */
export async function createDatabase(
  config: DatabaseConfig,
  options: DatabaseOptions = {},
): Promise<Kysely<Database>> {
  if (config.kind === "url") {
    const pool = withoutCrashes(new pg.Pool({ connectionString: config.url, max: 2, types: pgTypes }));
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  const readSecret = options.readSecret ?? readDatabaseSecret;
  let current: Promise<DatabaseCredentials> | undefined;
  const credentials = () => {
    current ??= readSecret(config.secretArn, config.region).catch((error: unknown) => {
      current = undefined;
      throw error;
    });
    return current;
  };
  // pg reads `password` on every new connection; the user name is fixed per pool, so the pool is rebuilt when
  // a rotation changed it (alternating-users rotation).
  let pool: pg.Pool | undefined;
  let poolUser: string | undefined;
  const poolFor = (user: string): pg.Pool => {
    if (pool && poolUser === user) return pool;
    void pool?.end().catch(() => {});
    poolUser = user;
    pool = new pg.Pool({
      user,
      password: async () => (await credentials()).password,
      host: config.host,
      port: config.port,
      database: config.database,
      // The certificate is verified: the Lambda images trust the RDS CAs via NODE_EXTRA_CA_CERTS.
      ssl: config.ssl ? { rejectUnauthorized: true } : false,
      max: 1,
      types: pgTypes,
    });
    return withoutCrashes(pool);
  };
  const rotating: PostgresPool = {
    // Kysely opens a control connection with these to cancel a query; they carry the password function only.
    Client: pg.Client,
    get options() {
      return pool?.options ?? {};
    },
    connect: async () => {
      try {
        return await poolFor((await credentials()).username).connect();
      } catch (error) {
        if (!AUTH_FAILURE.test(String((error as { code?: unknown }).code))) throw error;
        current = undefined;
        try {
          return await poolFor((await credentials()).username).connect();
        } catch (again) {
          if (!AUTH_FAILURE.test(String((again as { code?: unknown }).code))) throw again;
          // The secret's current value is refused too: a rotation between "set" and "finish" looks like this,
          // so the step is failed as retryable rather than for good.
          throw new RoadtollError(
            "DatabaseUnavailableError",
            `the database refused the credentials in the secret, read again just now (${(again as Error).message}); a rotation may be in progress`,
            { cause: again, where: { resource: config.secretArn } },
          );
        }
      }
    },
    end: async () => {
      await pool?.end();
    },
  };
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: rotating }) });
}

/**
 * A connection that drops emits 'error': on the pool while idle, on the client while checked out (inside a
 * transaction, say). Without a listener either one kills the process, and a Lambda would lose its container
 * over a failover. The failure itself still reaches the caller: the pending query rejects with it.
 */
function withoutCrashes(pool: pg.Pool): pg.Pool {
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  return pool;
}

/** Where the database is, for messages: host, port and database, never a user or password. */
export function describeDatabase(config: DatabaseConfig): string {
  if (config.kind === "secret") return `${config.host}:${config.port}/${config.database}`;
  try {
    const url = new URL(config.url);
    return `${url.hostname}:${url.port || "5432"}${url.pathname}`;
  } catch {
    return "(the configured database)";
  }
}

/**
 * Connects and runs `select 1`, retrying a transient failure a bounded number of times, so a database that is
 * starting or failing over is waited for briefly and one that is down fails at once with a clear, retryable
 * DatabaseUnavailableError naming where it was looked for.
 */
export async function checkDatabase(
  db: Kysely<Database>,
  where: string,
  retry: RetryPolicy = DEFAULT_RETRY,
): Promise<void> {
  try {
    await retryTransient(() => sql`select 1`.execute(db), retry);
  } catch (error) {
    throw databaseFailure(
      error,
      `cannot reach Postgres at ${where} after ${retry.delaysMs.length + 1} attempts`,
    );
  }
}

/** Reads `{"username","password"}` from Secrets Manager; a failure names the secret, never its value. */
export async function readDatabaseSecret(secretArn: string, region: string): Promise<DatabaseCredentials> {
  const client = new SecretsManagerClient({ region });
  try {
    const response = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    const parsed = secretSchema.safeParse(parseJson(response.SecretString));
    if (!parsed.success) {
      throw new RoadtollError("ConfigError", "the database secret has no username/password fields", {
        where: { resource: secretArn },
      });
    }
    return parsed.data;
  } catch (error) {
    if (error instanceof RoadtollError) throw error;
    throw new RoadtollError(
      "DatabaseUnavailableError",
      `cannot read the database secret: ${(error as Error).name}`,
      { cause: error, where: { resource: secretArn } },
    );
  } finally {
    client.destroy();
  }
}

/** JSON.parse's message quotes the text it failed on, which here is a secret: drop it. */
function parseJson(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? "{}");
  } catch {
    return undefined;
  }
}
