/**
 * Configuration for kysely-ctl, so users can manage the schema themselves:
 *
 *   DATABASE_URL=postgres://user@host/db npx kysely migrate:latest    (also migrate:list, migrate:down)
 *
 * It uses the same migration list the Lambdas and the local runner apply (src/db/migrations/index.ts).
 */

import { PostgresDialect } from "kysely";
import { defineConfig } from "kysely-ctl";
import pg from "pg";
import { migrationProvider } from "./src/db/migrations/index.js";

const connectionString = process.env.DATABASE_URL;
if (!connectionString)
  throw new Error("set DATABASE_URL to the Postgres to migrate (postgres://user@host:port/db)");

export default defineConfig({
  dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString, max: 1 }) }),
  migrations: { provider: migrationProvider },
});
