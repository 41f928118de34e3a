import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "csv-parse/sync";
import { beforeAll, describe, expect, it } from "vitest";
import { runRoadtoll } from "../src/cli/commands/index.js";
import { captureCliIo, useCliSandbox } from "./support/cli-io.js";

/**
 * Road names are whatever a file says. Run end to end (the pipeline, then the read commands), names that a
 * spreadsheet would execute, that reorder or rewrite what a reader sees, or that are absurdly long must reach
 * every output harmless, while the data (JSON) keeps them as they were read.
 */

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const HEADER =
  "data;horario;n_da_ocorrencia;tipo_de_ocorrencia;km;trecho;sentido;tipo_de_acidente;automovel;bicicleta;" +
  "caminhao;moto;onibus;outros;tracao_animal;transporte_de_cargas_especiais;trator_maquinas;utilitarios;ilesos;" +
  "levemente_feridos;moderadamente_feridos;gravemente_feridos;mortos";

const FORMULAS = ['=HYPERLINK("HTTP://EVIL","X")', "+1+1", "@SUM(1,1)", "-2+3"];
const BIDI = "BR-\u202eLIVE";
const ESCAPES = "\u001b[2KBR-1\u0007";
const LONG = "X".repeat(5000);
const ROADS = [...FORMULAS, BIDI, ESCAPES, LONG, "BR-116/BA"];
// biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for exactly these characters.
const HIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

const sandbox = useCliSandbox(ROOT, {
  // One accident per road, each with a car and 1 death (so every road has figures).
  prepare: async (directory) => {
    const rows = ROADS.map(
      (road, i) => `01/01/2020;10:00;${i};x;1;${road};N;x;1;0;0;0;0;0;0;0;0;0;0;0;0;0;1`,
    );
    await writeFile(join(directory, "hostile.csv"), `${HEADER}\n${rows.join("\n")}\n`, "utf8");
  },
});
const { roadtoll, pipeline } = sandbox;

beforeAll(async () => {
  const out = await pipeline("--link", `HOSTILE=${sandbox.baseUrl}/hostile.csv`);
  expect(out.code, out.stderr + out.stdout).toBe(0);
}, 240_000);

describe("hostile road names", () => {
  it("are stored and given by --format json exactly as read", async () => {
    const { code, stdout } = await roadtoll("results", "--source", "HOSTILE", "--format", "json");
    expect(code).toBe(0);
    const roads = new Set((JSON.parse(stdout) as Array<{ road_name: string }>).map((row) => row.road_name));
    expect(roads).toEqual(new Set(ROADS));
  });

  it("never start a --format csv cell a spreadsheet would run: a leading ' neutralises them", async () => {
    const { code, stdout } = await roadtoll("results", "--source", "HOSTILE", "--format", "csv");
    expect(code).toBe(0);
    const records = parse(stdout, { columns: true }) as Array<Record<string, string>>;
    const roads = new Set(records.map((record) => record.road_name));
    for (const formula of FORMULAS) expect(roads).toContain(`'${formula}`);
    expect(roads).toContain("BR-116/BA");
    for (const record of records) {
      for (const cell of Object.values(record)) {
        expect(/^[=+\-@\t\r]/.test(cell) && !/^-?\d+$/.test(cell), cell).toBe(false);
      }
    }
  });

  it("show no bidi control or terminal escape in a text table, only <U+XXXX>, and a long one cut", async () => {
    const { code, stdout } = await roadtoll("results", "--source", "HOSTILE");
    expect(code).toBe(0);
    expect(stdout).not.toMatch(HIDDEN);
    expect(stdout).toContain("BR-<U+202E>LIVE");
    expect(stdout).toContain("<U+001B>[2KBR-1<U+0007>");
    expect(Math.max(...stdout.split("\n").map((line) => line.length))).toBeLessThan(200);
  });

  it("reach the HTML report escaped, visible and cut, the whole name kept in a title", async () => {
    const out = join(sandbox.directory, "report.html");
    const { code, stderr } = await roadtoll("report", "--out", out);
    expect(code, stderr).toBe(0);
    const html = await readFile(out, "utf8");
    expect(html).not.toMatch(HIDDEN);
    expect(html).toContain("BR-&lt;U+202E&gt;LIVE");
    // Shown cut (table cells at 60 characters, chart labels shorter): the text a page lays out, without its tags
    // and the tooltips of <title> elements. Whole where a reader can get at it: the table cell's title.
    const laidOut = html.replace(/<title[^>]*>[^<]*<\/title>/g, "").replace(/<[^>]*>/g, "");
    expect(laidOut).toContain("X".repeat(20));
    expect(laidOut).not.toContain("X".repeat(61));
    expect(html).toContain(`<span title="${LONG}">${"X".repeat(59)}…</span>`);
  });
});

describe("paths the user gives", () => {
  it("resolve against the directory the command is run in, not the repository", async () => {
    const elsewhere = join(sandbox.directory, "elsewhere");
    await mkdir(elsewhere, { recursive: true });
    const { out, io } = captureCliIo(ROOT);
    const code = await runRoadtoll(
      ["report", "--out", "sub/report.html", ...sandbox.databaseArgs(), "--data-dir", "../data"],
      { ...io, cwd: elsewhere },
    );
    expect(code, out.stderr).toBe(0);
    // ../data from elsewhere/ is the data directory the pipeline wrote: the report has its figures.
    const html = await readFile(join(elsewhere, "sub", "report.html"), "utf8");
    expect(html).toContain("BR-116/BA");
    await expect(readFile(join(ROOT, "sub", "report.html"))).rejects.toThrow();
  });
});
