import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { type Kysely, sql } from "kysely";
import { RoadtollError } from "../errors.js";
import type { DatabaseCredentials } from "./database.js";

/** Made by migration 0002: may read and replace the pipeline's rows, and nothing else. */
export const WRITER_ROLE = "roadtoll_writer";

/** What a login user made from a secret may be called: a plain identifier, so it needs no quoting. */
const USER_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Makes (or updates) the login user the functions connect as, from its own secret: the password is set, the
 * user is made a member of `roadtoll_writer`, and nothing more is granted. Run by the migrate function, as the
 * administrator, after the migrations, on every deploy; so a secret changed by hand is applied by the next.
 *
 * The password is sent as a SCRAM-SHA-256 verifier computed here, the way psql's \password does: the server
 * stores the verifier as given, so the clear password never reaches the server's statement log.
 */
export async function ensureAppUser<DB>(
  db: Kysely<DB>,
  credentials: DatabaseCredentials,
): Promise<"created" | "updated"> {
  const { username, password } = credentials;
  if (!USER_NAME.test(username)) {
    throw new RoadtollError(
      "ConfigError",
      `the app user's secret names "${username}": use lower-case letters, digits and _ only`,
    );
  }
  const { rows: me } = await sql<{ user: string }>`select current_user as user`.execute(db);
  if (me[0]?.user === username) {
    throw new RoadtollError(
      "ConfigError",
      `the app user's secret names the administrator (${username}); it must be a user of its own`,
    );
  }
  const verifier = scramSha256Verifier(password);
  const { rows } = await sql`select 1 from pg_roles where rolname = ${username}`.execute(db);
  const exists = rows.length > 0;
  // Identifiers and the verifier are checked character by character above and below: safe to inline.
  await sql
    .raw(`${exists ? "alter" : "create"} role ${username} with login password '${verifier}'`)
    .execute(db);
  await sql.raw(`grant ${WRITER_ROLE} to ${username}`).execute(db);
  return exists ? "updated" : "created";
}

/**
 * The verifier Postgres keeps for a SCRAM-SHA-256 password (RFC 5802, RFC 7677; Postgres' format
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, all base64). Passwords are used as given:
 * generated secrets are ASCII, for which SASLprep changes nothing.
 */
export function scramSha256Verifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  const verifier = `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
  if (!/^[A-Za-z0-9+/=$:-]+$/.test(verifier)) throw new Error("unexpected character in a SCRAM verifier");
  return verifier;
}
