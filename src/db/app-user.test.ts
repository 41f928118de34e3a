import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createRequire } from "node:module";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestDatabase, type TestDatabase } from "../../tests/support/database.js";
import { loadReportData } from "../report/load-report-data.js";
import { ensureAppUser, scramSha256Verifier } from "./app-user.js";
import { publishSnapshot } from "./deaths-repository.js";

interface Session {
  response: string;
}
/** pg's own SCRAM client: an independent implementation to check our verifier against. */
const sasl = createRequire(import.meta.url)("pg/lib/crypto/sasl.js") as {
  startSession(mechanisms: string[]): Session;
  continueSession(session: Session, password: string, serverData: string): Promise<void>;
  finalizeSession(session: Session, serverData: string): void;
};

/** Plays the server's half of a SCRAM-SHA-256 login (RFC 5802) with nothing but the stored verifier. */
async function scramLogin(verifier: string, password: string): Promise<boolean> {
  const [, iterations, salt, storedKey, serverKey] =
    /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier) ?? [];
  const session = sasl.startSession(["SCRAM-SHA-256"]);
  const clientFirstBare = session.response.replace(/^n,,/, "");
  const nonce = `${/r=([^,]+)/.exec(clientFirstBare)?.[1]}${randomBytes(12).toString("base64")}`;
  const serverFirst = `r=${nonce},s=${salt},i=${iterations}`;
  await sasl.continueSession(session, password, serverFirst);
  const clientFinal = session.response;
  const withoutProof = clientFinal.replace(/,p=[^,]+$/, "");
  const proof = Buffer.from(/,p=([^,]+)$/.exec(clientFinal)?.[1] ?? "", "base64");
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const stored = Buffer.from(storedKey ?? "", "base64");
  const signature = createHmac("sha256", stored).update(authMessage).digest();
  const clientKey = Buffer.from(proof.map((byte, i) => byte ^ (signature[i] ?? 0)));
  if (!timingSafeEqual(createHash("sha256").update(clientKey).digest(), stored)) return false;
  // And the client checks the server: it throws unless the ServerKey matches its password too.
  const serverSignature = createHmac("sha256", Buffer.from(serverKey ?? "", "base64"))
    .update(authMessage)
    .digest("base64");
  sasl.finalizeSession(session, `v=${serverSignature}`);
  return true;
}

describe("scramSha256Verifier", () => {
  it("makes a verifier that pg's SCRAM client logs in with, and only with the right password", async () => {
    const verifier = scramSha256Verifier("Xq7-generated-by-secrets-manager");
    expect(verifier).toMatch(
      /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/,
    );
    expect(await scramLogin(verifier, "Xq7-generated-by-secrets-manager")).toBe(true);
    expect(await scramLogin(verifier, "Xq7-generated-by-secrets-managex")).toBe(false);
  });

  it("uses a new salt each time", () => {
    expect(scramSha256Verifier("same")).not.toBe(scramSha256Verifier("same"));
  });
});

describe(`the app user (database: ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"})`, () => {
  let database: TestDatabase;
  // Roles belong to the whole server: a name of its own keeps parallel test files apart.
  const username = `roadtoll_app_${randomBytes(4).toString("hex")}`;

  beforeAll(async () => {
    database = await openTestDatabase();
  });

  afterAll(async () => {
    await sql
      .raw(`drop owned by ${username}`)
      .execute(database.db)
      .catch(() => {});
    await sql.raw(`drop role if exists ${username}`).execute(database.db);
    await database?.close();
  });

  it("is created with a SCRAM password, then updated, never stored in the clear", async () => {
    expect(await ensureAppUser(database.db, { username, password: "first-secret-value" })).toBe("created");
    expect(await ensureAppUser(database.db, { username, password: "second-secret-value" })).toBe("updated");
    const { rows } = await sql<{ rolpassword: string; rolcanlogin: boolean; rolsuper: boolean }>`
      select rolpassword, rolcanlogin, rolsuper from pg_authid where rolname = ${username}`.execute(
      database.db,
    );
    expect(rows[0]?.rolcanlogin).toBe(true);
    expect(rows[0]?.rolsuper).toBe(false);
    expect(rows[0]?.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(await scramLogin(rows[0]?.rolpassword ?? "", "second-secret-value")).toBe(true);
  });

  it("may replace a snapshot and read it, and nothing else", async () => {
    await ensureAppUser(database.db, { username, password: "p" });
    await database.db.connection().execute(async (connection) => {
      await sql.raw(`set role ${username}`).execute(connection);
      try {
        const road = {
          road: "BR-101",
          total: 1,
          byVehicle: { automovel: 1, bicicleta: 0, caminhao: 0, moto: 0, onibus: 0 },
        };
        await publishSnapshot(connection, { source: "App", createdAt: new Date(), roads: [road] });
        const written = await connection
          .selectFrom("deaths_by_vehicle")
          .select("vehicle")
          .where("source", "=", "App")
          .execute();
        expect(written).toHaveLength(5);
        for (const statement of [
          "drop table deaths_by_vehicle",
          "truncate deaths_by_vehicle",
          "update deaths_by_vehicle set number_deaths = 0",
          "create table mine (a int)",
          "select * from kysely_migration",
          "alter role current_user createrole",
        ]) {
          await expect(sql.raw(statement).execute(connection), statement).rejects.toMatchObject({
            code: expect.stringMatching(/^42501$/),
          });
        }
      } finally {
        await sql`reset role`.execute(connection);
      }
    });
  });

  it("may read everything the curated zone is made from (PublishCurated, on the deaths function)", async () => {
    await ensureAppUser(database.db, { username, password: "p" });
    await database.db.connection().execute(async (connection) => {
      await sql.raw(`set role ${username}`).execute(connection);
      try {
        // The report's queries: the current figures and each source's newest run, as publishCurated reads them.
        const data = await loadReportData(connection);
        expect(data.sources.some((source) => source.name === "App")).toBe(true);
        expect(Array.isArray(data.runs)).toBe(true);
      } finally {
        await sql`reset role`.execute(connection);
      }
    });
  });

  it("refuses a secret that names the administrator or an odd user name", async () => {
    const { rows } = await sql<{ user: string }>`select current_user as user`.execute(database.db);
    await expect(
      ensureAppUser(database.db, { username: rows[0]?.user ?? "", password: "p" }),
    ).rejects.toMatchObject({
      name: "ConfigError",
    });
    await expect(
      ensureAppUser(database.db, { username: "x; drop table t", password: "p" }),
    ).rejects.toMatchObject({
      name: "ConfigError",
    });
  });
});
