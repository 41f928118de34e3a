import { createServer } from "node:net";
import type { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { createEmbeddedDatabase } from "../../src/db/embedded-database.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import { openTestDatabase } from "./database.js";

/** A migrated database reachable over TCP, for tests of the `pg` path: the wire, connections, faults. */
export interface WireDatabase {
  kind: "pglite" | "postgres";
  host: string;
  port: number;
  database: string;
  /** User-less when the server trusts anyone on loopback (both do here). */
  url: string;
  close(): Promise<void>;
}

/**
 * With DATABASE_URL: a fresh database on that server. Without: PGlite in memory, served over the wire
 * protocol by @electric-sql/pglite-socket, so the same `pg` code runs against it.
 */
export async function openWireDatabase(): Promise<WireDatabase> {
  if (process.env.DATABASE_URL) {
    const server = await openTestDatabase();
    const url = new URL(server.url as string);
    // The test database's own Kysely is not needed: tests go through `pg`, as the Lambdas do.
    return {
      kind: "postgres",
      host: url.hostname,
      port: Number(url.port || 5432),
      database: url.pathname.slice(1),
      url: url.toString(),
      close: () => server.close(),
    };
  }
  const { db, pglite } = await createEmbeddedDatabase();
  await migrateToLatest(db);
  const port = await freePort();
  const socket = new PGLiteSocketServer({ db: pglite as PGlite, host: "127.0.0.1", port, maxConnections: 8 });
  await socket.start();
  return {
    kind: "pglite",
    host: "127.0.0.1",
    port,
    database: "postgres",
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    close: async () => {
      await socket.stop();
      await db.destroy();
    },
  };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === "object" && address ? address.port : 0;
}
