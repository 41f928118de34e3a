import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import * as z from "zod";
import type { DatabaseConfig } from "../config.js";
import { RoadtollError } from "../errors.js";
import type { Database } from "./schema.js";

/** The JSON RDS writes into a managed master-user secret (only the fields we use). */
const secretSchema = z.object({ username: z.string().min(1), password: z.string().min(1) });

/**
 * Opens Postgres through `pg`. With a secret, the credentials are fetched once here (callers do this once per
 * cold start) and never logged. A Lambda handles one event at a time, so one connection is enough.
 */
export async function createDatabase(config: DatabaseConfig): Promise<Kysely<Database>> {
  const pool =
    config.kind === "url"
      ? new pg.Pool({ connectionString: config.url, max: 2 })
      : new pg.Pool({
          ...(await readCredentials(config.secretArn, config.region)),
          host: config.host,
          port: config.port,
          database: config.database,
          // The certificate is verified: the Lambda images trust the RDS CAs via NODE_EXTRA_CA_CERTS.
          ssl: config.ssl ? { rejectUnauthorized: true } : false,
          max: 1,
        });
  // An idle client that loses its connection emits 'error' on the pool; without a listener that kills the process.
  pool.on("error", () => {});
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

async function readCredentials(
  secretArn: string,
  region: string,
): Promise<{ user: string; password: string }> {
  const client = new SecretsManagerClient({ region });
  try {
    const response = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    const parsed = secretSchema.safeParse(JSON.parse(response.SecretString ?? "{}"));
    if (!parsed.success) {
      throw new RoadtollError("ConfigError", "the database secret has no username/password fields", {
        where: { file: secretArn },
      });
    }
    return { user: parsed.data.username, password: parsed.data.password };
  } catch (error) {
    if (error instanceof RoadtollError) throw error;
    throw new RoadtollError(
      "DatabaseUnavailableError",
      `cannot read the database secret: ${(error as Error).name}`,
      {
        cause: error,
        where: { file: secretArn },
      },
    );
  } finally {
    client.destroy();
  }
}
