import { type Kysely, sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkDatabase, createDatabase, type DatabaseCredentials } from "../src/db/database.js";
import { publishSnapshot } from "../src/db/deaths-repository.js";
import type { RetryPolicy } from "../src/db/retry.js";
import type { Database } from "../src/db/schema.js";
import type { RoadDeaths } from "../src/domain/deaths-aggregator.js";
import { type PgFront, type QueryAction, startPgFront } from "./support/pg-front.js";
import { freePort, openWireDatabase, type WireDatabase } from "./support/wire-database.js";

/**
 * The `pg` path (the Lambdas' path) against a database that fails: connections cut mid-transaction, a lost
 * COMMIT acknowledgement, a server that is down, a rotated password. Each fault is made by a real front on
 * loopback (tests/support/pg-front.ts) in front of a real database: PostgreSQL with DATABASE_URL, else PGlite
 * served over the wire protocol.
 */
const QUICK: RetryPolicy = { delaysMs: [20, 20] };
const createdAt = new Date("2026-11-27T10:00:00.000Z");

const road = (name: string, moto: number): RoadDeaths => ({
  road: name,
  total: moto,
  byVehicle: { automovel: 0, bicicleta: 0, caminhao: 0, moto, onibus: 0 },
});

let upstream: WireDatabase;
let direct: Kysely<Database>;
let front: PgFront;
let action: (sql: string) => QueryAction = () => "pass";
const opened: Array<Kysely<Database>> = [];

async function throughFront(): Promise<Kysely<Database>> {
  const db = await createDatabase({
    kind: "url",
    url: `postgres://postgres@${front.host}:${front.port}/${upstream.database}`,
  });
  opened.push(db);
  return db;
}

async function snapshotRows(source: string) {
  return direct
    .selectFrom("deaths_by_vehicle")
    .select(["road_name", "vehicle", "number_deaths"])
    .where("source", "=", source)
    .orderBy("road_name")
    .orderBy("vehicle")
    .execute();
}

beforeAll(async () => {
  upstream = await openWireDatabase();
  direct = await createDatabase({ kind: "url", url: upstream.url });
  front = await startPgFront({ upstream, onQuery: (text) => action(text) });
});

afterEach(async () => {
  action = () => "pass";
  await Promise.all(opened.splice(0).map((db) => db.destroy()));
});

afterAll(async () => {
  await front?.close();
  await direct?.destroy();
  await upstream?.close();
});

describe(`database faults (${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite over the wire"})`, () => {
  it("a connection cut mid-transaction, every time, leaves the previous snapshot whole and fails retryable", async () => {
    await publishSnapshot(direct, {
      source: "Cut",
      createdAt,
      roads: [road("BR-101", 1), road("BR-116", 2)],
    });
    const before = await snapshotRows("Cut");
    // The DELETE of the old rows has run inside the transaction when the INSERT is cut.
    action = (text) => (/^insert into "deaths_by_vehicle"/i.test(text) ? "cut-before" : "pass");
    const seen = front.queries.length;
    await expect(
      publishSnapshot(
        await throughFront(),
        { source: "Cut", createdAt, roads: [road("BR-101", 9)] },
        undefined,
        { retry: QUICK },
      ),
    ).rejects.toMatchObject({
      name: "DatabaseUnavailableError",
      message: expect.stringMatching(
        /^cannot write deaths_by_vehicle for Cut: (Connection terminated unexpectedly|Client has encountered a connection error and is not queryable)$/,
      ),
    });
    const attempts = front.queries.slice(seen).filter((text) => /^delete from/i.test(text));
    expect(attempts).toHaveLength(3);
    expect(await snapshotRows("Cut")).toEqual(before);
  });

  it("a connection cut once is absorbed inside the step: the snapshot is written exactly once", async () => {
    let cuts = 0;
    action = (text) =>
      /^insert into "deaths_by_vehicle"/i.test(text) && cuts++ === 0 ? "cut-before" : "pass";
    const roads = [road("BR-101", 3), road("BR-116", 4)];
    await expect(
      publishSnapshot(await throughFront(), { source: "Blip", createdAt, roads }, undefined, {
        retry: QUICK,
      }),
    ).resolves.toMatchObject({ rowsWritten: 10, current: true });
    expect(cuts).toBe(2);
    const rows = await snapshotRows("Blip");
    expect(rows).toHaveLength(10);
    expect(rows.filter((row) => row.vehicle === "moto").map((row) => row.number_deaths)).toEqual([3, 4]);
  });

  it("a COMMIT that ran but whose answer was lost is repeated harmlessly: same rows, not doubled", async () => {
    let cuts = 0;
    action = (text) => (/^commit/i.test(text) && cuts++ === 0 ? "cut-after-reply" : "pass");
    const roads = [road("BR-040", 5)];
    await publishSnapshot(await throughFront(), { source: "Ack", createdAt, roads }, undefined, {
      retry: QUICK,
    });
    expect(cuts).toBe(2);
    const rows = await snapshotRows("Ack");
    expect(rows).toHaveLength(5);
    expect(rows.find((row) => row.vehicle === "moto")?.number_deaths).toBe(5);
  });

  it("a server that is down fails the start after bounded tries, naming where, with no password", async () => {
    const port = await freePort();
    const db = await createDatabase({
      kind: "url",
      url: `postgres://app:pa55-w0rd-x@127.0.0.1:${port}/roads`,
    });
    opened.push(db);
    const started = Date.now();
    const failure = await checkDatabase(db, `127.0.0.1:${port}/roads`, { delaysMs: [100, 200] }).catch(
      (error: unknown) => error as Error,
    );
    expect(failure).toMatchObject({
      name: "DatabaseUnavailableError",
      message: `cannot reach Postgres at 127.0.0.1:${port}/roads after 3 attempts: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(JSON.stringify(failure, Object.getOwnPropertyNames(failure))).not.toContain("pa55-w0rd-x");
  });

  it("a constraint violation is not retried: DatabaseError at once, nothing written", async () => {
    const db = await throughFront();
    const seen = front.queries.length;
    const bad = {
      ...road("BR-101", -1),
      byVehicle: { automovel: 0, bicicleta: 0, caminhao: 0, moto: -1, onibus: 0 },
    };
    await expect(
      publishSnapshot(db, { source: "Bad", createdAt, roads: [bad] }, undefined, { retry: QUICK }),
    ).rejects.toMatchObject({
      name: "DatabaseError",
    });
    expect(front.queries.slice(seen).filter((text) => /^delete from/i.test(text))).toHaveLength(1);
    expect(await snapshotRows("Bad")).toEqual([]);
  });
});

describe("a rotated database secret", () => {
  let guarded: PgFront;
  let serverPassword = "first-pa55";
  let secret: DatabaseCredentials = { username: "roadtoll_app", password: "first-pa55" };
  const reads: string[] = [];

  beforeAll(async () => {
    guarded = await startPgFront({ upstream, password: () => serverPassword });
  });
  afterAll(async () => {
    await guarded?.close();
  });

  async function secretDatabase(): Promise<Kysely<Database>> {
    const db = await createDatabase(
      {
        kind: "secret",
        secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:roadtoll-app",
        host: guarded.host,
        port: guarded.port,
        database: upstream.database,
        ssl: false,
        region: "us-east-1",
      },
      {
        readSecret: async () => {
          reads.push(secret.password);
          return secret;
        },
      },
    );
    opened.push(db);
    return db;
  }

  it("is read again when the server refuses the old password, and the write goes through", async () => {
    // The upstream trusts any user; PostgreSQL needs the role to exist, PGlite does not care.
    if (upstream.kind === "postgres") {
      await sql`do $$ begin create role roadtoll_app login; exception when duplicate_object then null; end $$`.execute(
        direct,
      );
      // As a deployment does it (docs/deploy.md): the app user is a member of the writer role.
      await sql.raw(`grant roadtoll_writer to roadtoll_app`).execute(direct);
    }
    const db = await secretDatabase();
    await publishSnapshot(db, { source: "Rot", createdAt, roads: [road("BR-101", 1)] }, undefined, {
      retry: QUICK,
    });
    expect(reads).toEqual(["first-pa55"]);

    // Rotation: the server and the secret move to a new password, and open sessions end (a failover or
    // the pool's idle timeout does this in real life).
    serverPassword = "second-pa55";
    secret = { ...secret, password: "second-pa55" };
    guarded.dropAll();
    await publishSnapshot(db, { source: "Rot", createdAt, roads: [road("BR-101", 2)] }, undefined, {
      retry: QUICK,
    });
    expect(reads).toEqual(["first-pa55", "second-pa55"]);
    expect(guarded.logins.refused).toBe(1);
    expect((await snapshotRows("Rot")).find((row) => row.vehicle === "moto")?.number_deaths).toBe(2);
  });

  it("still refused after a fresh read (rotation half done): retryable, and no password in the message", async () => {
    serverPassword = "third-pa55";
    guarded.dropAll();
    const db = await secretDatabase();
    const failure = await publishSnapshot(
      db,
      { source: "Rot", createdAt, roads: [road("BR-101", 3)] },
      undefined,
      { retry: QUICK },
    ).catch((error: unknown) => error as Error);
    expect(failure).toMatchObject({
      name: "DatabaseUnavailableError",
      message: expect.stringContaining("refused the credentials in the secret, read again just now"),
    });
    expect((failure as Error).message).not.toMatch(/pa55/);
    expect((await snapshotRows("Rot")).find((row) => row.vehicle === "moto")?.number_deaths).toBe(2);
  });
});
