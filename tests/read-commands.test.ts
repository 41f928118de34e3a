import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PAGE_ROWS } from "../src/cli/commands/database.js";
import { runRoadtoll } from "../src/cli/commands/index.js";
import { captureCliIo } from "./support/cli-io.js";
import { openTestDatabase, type TestDatabase } from "./support/database.js";

/**
 * The read commands (results, runs, sql, report) are reads: they never create or change anything in the database
 * they are pointed at, `sql` runs as a role that may only read roadtoll's tables, under a statement timeout, and
 * Ctrl-C cancels its statement on the server.
 */

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const onPostgres = Boolean(process.env.DATABASE_URL);
let empty: TestDatabase | undefined;
let migrated: TestDatabase | undefined;

beforeAll(async () => {
  if (!onPostgres) return;
  [empty, migrated] = await Promise.all([
    openTestDatabase({ migrate: false }),
    openTestDatabase({ migrate: true }),
  ]);
});

afterAll(async () => {
  await Promise.all([empty?.close(), migrated?.close()]);
});

async function roadtoll(...argv: string[]) {
  const { out, io } = captureCliIo(ROOT);
  const code = await runRoadtoll(argv, io);
  return { code, ...out };
}

/** The data directory every PGlite case uses: made by the pipeline's migrations once. */
let dataDir = "";
beforeAll(async () => {
  const { mkdtemp } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  dataDir = await mkdtemp(join(tmpdir(), "roadtoll-read-"));
  expect((await roadtoll("migrate", "--data-dir", dataDir)).code).toBe(0);
});
const target = () => (onPostgres ? ["--database-url", migrated?.url ?? ""] : ["--data-dir", dataDir]);

describe.runIf(onPostgres)("read commands on a database without roadtoll's schema (Postgres)", () => {
  it.each([["results"], ["runs"], ["sql", "select 1"], ["report", "--out", "/dev/null"]])(
    "%s exits 1 naming roadtoll migrate, and creates nothing",
    async (...argv) => {
      const { code, stderr } = await roadtoll(...argv, "--database-url", empty?.url ?? "");
      expect(code).toBe(1);
      expect(stderr).toMatch(
        /SchemaError: Postgres at .* has no roadtoll schema: read commands change nothing; roadtoll migrate --database-url … \(or a pipeline run\) creates it/,
      );
      const tables = await sql<{ n: number }>`
        select count(*)::int as n from information_schema.tables where table_schema = 'public'`.execute(
        empty?.db as never,
      );
      expect(tables.rows).toEqual([{ n: 0 }]);
    },
  );
});

describe(`results, runs and sql print a page at a time (${onPostgres ? "Postgres" : "PGlite"})`, () => {
  const ROWS = 2 * PAGE_ROWS + 1;
  const statement = `select g as id, repeat('x', g % 7) as pad from generate_series(1, ${ROWS}) g`;
  const expected = Array.from({ length: ROWS }, (_, i) => ({ id: i + 1, pad: "x".repeat((i + 1) % 7) }));

  /** Runs `roadtoll …` with a stdout that takes its time over each page, as a slow pipe does. */
  async function paged(...argv: string[]) {
    const chunks: string[] = [];
    let writing = 0;
    let overlapped = false;
    const { io, out } = captureCliIo(ROOT);
    const code = await runRoadtoll(argv, {
      ...io,
      stdout: async (text) => {
        if (writing > 0) overlapped = true;
        writing++;
        chunks.push(text);
        await new Promise((resolve) => setTimeout(resolve, 5));
        writing--;
      },
    });
    return { code, stderr: out.stderr, chunks, overlapped, text: chunks.join("") };
  }

  it.each([["csv"], ["json"], ["table"]])(
    `prints %s in pages of at most ${PAGE_ROWS.toLocaleString("en-US")} rows, each once the last was written, the rows all there`,
    async (format) => {
      const { code, stderr, chunks, overlapped, text } = await paged(
        "sql",
        statement,
        "--format",
        format,
        ...target(),
      );
      expect(code, stderr).toBe(0);
      expect(overlapped).toBe(false);
      // Three pages (two full ones and one row) and the closing text.
      expect(chunks).toHaveLength(4);
      for (const chunk of chunks) expect(chunk.split("\n").length).toBeLessThanOrEqual(PAGE_ROWS * 5 + 3);
      if (format === "json") expect(JSON.parse(text)).toEqual(expected);
      if (format === "csv") {
        expect(text).toBe(`id,pad\r\n${expected.map((row) => `${row.id},${row.pad}\r\n`).join("")}`);
      }
      if (format === "table") {
        const lines = text.trimEnd().split("\n");
        // Aligned on the first page's widths: its ids have as many digits as PAGE_ROWS.
        const id = String(PAGE_ROWS).length;
        expect(lines.slice(0, 3)).toEqual([
          `${"id".padStart(id)}  pad`,
          `${"-".repeat(id)}  ------`,
          `${"1".padStart(id)}  x`,
        ]);
        expect(lines.slice(-2)).toEqual([
          `${ROWS}  ${"x".repeat(ROWS % 7)}`,
          `(${ROWS.toLocaleString("en")} rows)`,
        ]);
        expect(lines).toHaveLength(ROWS + 3);
      }
    },
  );

  it("runs what a cursor cannot hold (SHOW, EXPLAIN) as it is, and names a bad statement's own error", async () => {
    const show = await roadtoll("sql", "show statement_timeout", "--format", "json", ...target());
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toEqual([{ statement_timeout: expect.any(String) }]);
    const explain = await roadtoll("sql", "explain select 1", ...target());
    expect(explain.code, explain.stderr).toBe(0);
    expect(explain.stdout).toContain("Result");
    const typo = await roadtoll("sql", "selec 1", ...target());
    expect(typo.code).toBe(1);
    expect(typo.stderr).toBe('roadtoll sql: DatabaseError: syntax error at or near "selec"\n');
  });

  it("prints a bigint past 2^53 exactly, and one within it as a number", async () => {
    const { code, stdout, stderr } = await roadtoll(
      "sql",
      "select 9007199254740993::bigint as big, 3000000000::bigint as small",
      "--format",
      "json",
      ...target(),
    );
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('"big": "9007199254740993"');
    expect(JSON.parse(stdout)).toEqual([{ big: "9007199254740993", small: 3_000_000_000 }]);
  });

  it("prints the header of a result without rows when the command knows its columns", async () => {
    const { code, stdout } = await roadtoll("results", "--source", "nobody", "--format", "csv", ...target());
    expect(code).toBe(0);
    expect(stdout).toBe("source,road_name,vehicle,number_deaths,created_at\r\n");
  });
});

describe(`roadtoll sql, beyond the read-only transaction (${onPostgres ? "Postgres" : "PGlite"})`, () => {
  it.each([
    ["copy (select 1) to '/tmp/roadtoll-read-copy.csv'", "/tmp/roadtoll-read-copy.csv"],
    ["copy (select 1) to program 'touch /tmp/roadtoll-read-program'", "/tmp/roadtoll-read-program"],
    ["select pg_stat_reset()", undefined],
    ["select pg_reload_conf()", undefined],
    ["select pg_read_file('PG_VERSION')", undefined],
  ])("refuses %s (exit 1), running as roadtoll_reader", async (statement, file) => {
    const { code, stderr } = await roadtoll("sql", statement, ...target());
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(
      /^roadtoll sql: DatabaseError: refused by the database: (permission denied|must be superuser)/,
    );
    if (file) expect(existsSync(file)).toBe(false);
  });

  it("still reads every roadtoll table", async () => {
    for (const table of [
      "deaths_by_vehicle",
      "deaths_by_vehicle_history",
      "accidents_by_road_year",
      "pipeline_runs",
    ]) {
      const { code, stderr } = await roadtoll("sql", `select count(*) from ${table}`, ...target());
      expect(code, `${table}: ${stderr}`).toBe(0);
    }
  });

  it("refuses a --timeout that is not a number of seconds (exit 2)", async () => {
    const { code, stderr } = await roadtoll("sql", "select 1", "--timeout", "soon", ...target());
    expect(code).toBe(2);
    expect(stderr).toContain('--timeout: expected seconds (a number, 0 for no limit), got "soon"');
  });

  // PGlite runs in the CLI's own thread, with no timer that could stop a statement: the timeout is the server's.
  it.runIf(onPostgres)("has the server cancel a statement that runs past --timeout", async () => {
    const started = Date.now();
    const { code, stderr } = await roadtoll("sql", "select pg_sleep(20)", "--timeout", "0.5", ...target());
    expect(code).toBe(1);
    expect(stderr).toContain("the statement ran past --timeout 0.5 s and the server cancelled it");
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  // Ctrl-C on PGlite ends the process, and the query with it; on Postgres the server must be told.
  it.runIf(onPostgres)("cancels the statement on the server at Ctrl-C, and says so (exit 130)", async () => {
    const child = spawn(
      process.execPath,
      [join(ROOT, "bin", "roadtoll.mjs"), "sql", "select pg_sleep(60)", ...target()],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // The statement runs as the cursor's first page is fetched, in this suite's own database.
    const running = async () => {
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and state = 'active'
          and query like 'fetch forward % from roadtoll_rows'`.execute(migrated?.db as never);
      return rows[0]?.n ?? 0;
    };
    for (let i = 0; i < 200 && (await running()) === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await running()).toBe(1);
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("exit", (exit) => resolve(exit)));
    expect(code).toBe(130);
    expect(stderr).toContain("roadtoll sql: interrupted; the server cancelled the statement");
    for (let i = 0; i < 50 && (await running()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await running()).toBe(0);
  });
});
