import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRoadtoll } from "../src/cli/commands/index.js";
import { runCli } from "../src/cli/run.js";
import { type RunningFileServer, startFileServer } from "../src/local/file-server.js";
import { openTestDatabase, type TestDatabase } from "./support/database.js";
import { colourStats, decodePng } from "./support/png.js";
import { referenceDeaths, VEHICLE_NAMES } from "./support/reference.js";
import { findChromium, skipNote, skipWithout } from "./support/tools.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SAMPLES = join(ROOT, "samples");
/** A road name from outside that would run script if the report did not escape it (upper-cased as roads are). */
const HOSTILE_ROAD = `<script>document.title="pwned"</script><img src=x onerror=alert(1)> & co`;

const chromium = findChromium();

interface Bar {
  chart: string;
  row: string;
  series: string;
  value: number;
  width: number;
}
interface Cell {
  chart: string;
  row: string;
  series: string;
  text: string;
}

/** Each source the report holds, computed independently from its file. */
async function references(): Promise<Map<string, ReturnType<typeof referenceDeaths>>> {
  const files = new Map<string, string>([
    ["amostra_hostil", join(dataDirOf(), "files", "hostile.csv")],
    ["amostra_via_norte", join(SAMPLES, "amostra_via_norte.csv")],
    ["amostra_via_sul_bom", join(SAMPLES, "amostra_via_sul_bom.csv")],
  ]);
  const result = new Map<string, ReturnType<typeof referenceDeaths>>();
  for (const [source, file] of files) result.set(source, referenceDeaths(await readFile(file)));
  return result;
}

/** Most first; ties by name, as the report orders them. */
function rank(entries: ReadonlyArray<readonly [string, number]>): Array<[string, number]> {
  return [...entries]
    .map(([name, value]): [string, number] => [name, value])
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
}

let currentDataDir = "";
const dataDirOf = () => currentDataDir;

const noChromium = !chromium && "no chromium on PATH; .ci/run installs it with apt-get";
describe.skipIf(skipWithout(noChromium))(`the report in headless Chromium${skipNote(noChromium)}`, () => {
  let dataDir: string;
  let files: RunningFileServer;
  let database: TestDatabase | undefined;
  let browser: Browser;
  let page: Page;
  let reportPath: string;
  const requests: string[] = [];
  const pageErrors: string[] = [];

  function io() {
    const out = { stdout: "", stderr: "" };
    return {
      out,
      io: {
        stdout: (text: string) => {
          out.stdout += text;
        },
        stderr: (text: string) => {
          out.stderr += text;
        },
        env: {},
        root: ROOT,
      },
    };
  }
  const databaseArgs = () => [
    "--data-dir",
    dataDir,
    ...(database?.url ? ["--database-url", database.url] : []),
  ];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "roadtoll-report-"));
    currentDataDir = dataDir;
    // A third source whose BR-101/SC is named by HOSTILE_ROAD (with all its deaths, among the worst roads), and
    // whose accidents are two years older, so the sources cover different years.
    const hostile = join(dataDir, "files");
    await mkdir(hostile);
    const text = await readFile(join(SAMPLES, "amostra_via_sul_bom.csv"), "utf8");
    await writeFile(
      join(hostile, "hostile.csv"),
      text.replaceAll("BR-101/SC;", `${HOSTILE_ROAD};`).replaceAll("/2021;", "/2019;"),
    );
    files = await startFileServer(hostile);
    if (process.env.DATABASE_URL) database = await openTestDatabase({ migrate: false });
    for (const argv of [[], ["--link", `amostra_hostil=${files.baseUrl}/hostile.csv`]]) {
      const { out, io: cli } = io();
      expect(await runCli([...argv, ...databaseArgs()], cli), out.stderr + out.stdout).toBe(0);
    }
    reportPath = join(dataDir, "out", "report.html");
    const { out, io: cli } = io();
    expect(
      await runRoadtoll(["report", "--out", reportPath, "--include-samples", ...databaseArgs()], cli),
      out.stderr,
    ).toBe(0);
    expect(out.stdout).toBe(`${reportPath}\n`);
    expect(out.stderr).toBe("");

    browser = await puppeteer.launch({
      executablePath: chromium,
      // No user namespaces in a container: Chromium's sandbox cannot start there.
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    });
    page = await browser.newPage();
    await page.setRequestInterception(true);
    page.on("request", (request) => {
      requests.push(request.url());
      if (request.url().startsWith("file:")) void request.continue();
      else void request.abort();
    });
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(pathToFileURL(reportPath).href, { waitUntil: "load" });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await files?.close();
    await database?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("loads the file and nothing else, and runs no script", async () => {
    expect(requests).toEqual([pathToFileURL(reportPath).href]);
    expect(pageErrors).toEqual([]);
    expect(await page.title()).toBe("roadtoll report");
    expect(await page.$$eval("script, img, link, iframe, object", (found) => found.length)).toBe(0);
    // The hostile name is shown as text where the road is listed: cut at 60 characters, whole in the tooltip.
    const roads = await page.$$eval("#roads tbody th", (cells) =>
      cells.map((cell) => ({
        text: cell.firstChild?.textContent?.trim(),
        title: (cell.firstChild as { title?: string } | null)?.title ?? "",
      })),
    );
    const hostile = HOSTILE_ROAD.toUpperCase();
    expect(hostile.length).toBeGreaterThan(60);
    expect(roads).toContainEqual({ text: `${hostile.slice(0, 59)}…`, title: hostile });
  });

  it("renders a screenshot that is not blank", async () => {
    const png = Buffer.from(await page.screenshot({ fullPage: true, type: "png" }));
    await writeFile(join(dataDir, "report.png"), png);
    const image = decodePng(png);
    expect(image.width).toBe(1200);
    const { colours, nonBackground } = colourStats(image);
    // Text antialiasing alone gives dozens of colours; the five bar colours cover a good part of the page.
    expect(colours).toBeGreaterThan(50);
    expect(nonBackground).toBeGreaterThan(0.05);
  });

  it("draws every bar at the length the table's number gives it", async () => {
    const bars: Bar[] = await page.$$eval("svg rect[data-chart]", (rects) =>
      rects.map((rect) => ({
        chart: rect.getAttribute("data-chart") ?? "",
        row: rect.getAttribute("data-row") ?? "",
        series: rect.getAttribute("data-series") ?? "",
        value: Number(rect.getAttribute("data-value")),
        width: rect.getBoundingClientRect().width,
      })),
    );
    const cells: Cell[] = await page.$$eval("td[data-chart]", (tds) =>
      tds.map((td) => ({
        chart: td.getAttribute("data-chart") ?? "",
        row: td.getAttribute("data-row") ?? "",
        series: td.getAttribute("data-series") ?? "",
        text: td.textContent ?? "",
      })),
    );
    expect(new Set(bars.map((bar) => bar.chart))).toEqual(new Set(["vehicles", "sources", "roads"]));
    const sameKey = (a: Omit<Cell, "text">, b: Omit<Cell, "text">) =>
      a.chart === b.chart && a.row === b.row && a.series === b.series;
    expect(cells).toHaveLength(bars.length);
    for (const chart of ["vehicles", "sources", "roads"]) {
      const ofChart = bars.filter((bar) => bar.chart === chart);
      const max = ofChart.reduce((best, bar) => (bar.value > best.value ? bar : best));
      const pixelsPerDeath = max.width / max.value;
      expect(pixelsPerDeath, chart).toBeGreaterThan(1);
      for (const bar of ofChart) {
        const cell = cells.find((candidate) => sameKey(candidate, bar));
        const label = `${chart} ${bar.row} ${bar.series}`;
        expect(cell, label).toBeDefined();
        expect(Number(cell?.text.replaceAll(",", "")), label).toBe(bar.value);
        expect(bar.width, label).toBeCloseTo(bar.value * pixelsPerDeath, 0);
      }
    }
    // The overall chart against an independent computation over the source files.
    const expected = Object.fromEntries(VEHICLE_NAMES.map((name) => [name, 0]));
    for (const reference of (await references()).values()) {
      for (const name of VEHICLE_NAMES) expected[name] = (expected[name] ?? 0) + reference.byVehicle[name];
    }
    const overall = Object.fromEntries(
      bars.filter((bar) => bar.chart === "vehicles").map((bar) => [bar.row, bar.value]),
    );
    expect(overall).toEqual(expected);
  });

  it("heads with deaths counted once and ranks sources and roads by them, as computed independently", async () => {
    const files = await references();
    const all = [...files.values()];
    const deaths = all.reduce((sum, reference) => sum + reference.totalDeaths, 0);
    const accidents = all.reduce((sum, reference) => sum + reference.accepted, 0);
    const years = all.flatMap((reference) => [...reference.years.keys()]).filter((year) => year !== null);
    const span = `${Math.min(...years)}–${Math.max(...years)}`;
    expect(span).toBe("2019–2021");
    const figure = (name: string) =>
      page.$eval(`#headline [data-figure="${name}"]`, (element) => element.textContent ?? "");
    expect(Number((await figure("deaths")).replaceAll(",", ""))).toBe(deaths);
    expect(Number((await figure("accidents")).replaceAll(",", ""))).toBe(accidents);
    expect(await figure("years")).toBe(span);

    const chartRows = (chart: string) =>
      page.$$eval(`svg[data-chart="${chart}"] rect`, (rects) =>
        rects.map((rect) => [rect.getAttribute("data-row"), Number(rect.getAttribute("data-value"))]),
      );
    // Sources: one bar each, its deaths counted once, most first.
    const bySource = [...files].map(([source, reference]) => [source, reference.totalDeaths] as const);
    expect(await chartRows("sources")).toEqual(rank(bySource));
    // Roads: deaths counted once over every source that runs the road, the ten worst first.
    const byRoad = new Map<string, number>();
    for (const reference of all) {
      for (const [road, figures] of reference.accidentsByRoad) {
        byRoad.set(road, (byRoad.get(road) ?? 0) + figures.deaths);
      }
    }
    expect(await chartRows("roads")).toEqual(rank([...byRoad]).slice(0, 10));
    // Nothing adds the metric up.
    const headers = await page.$$eval("thead th", (cells) => cells.map((cell) => cell.textContent?.trim()));
    expect(headers).not.toContain("sum");
    expect(headers).toContain("deaths in accidents involving (overlapping: not a breakdown)");
    // Every section with figures says the years it covers, and each source its own.
    for (const id of ["vehicles", "sources", "roads"]) {
      expect(await page.$eval(`#${id}`, (section) => section.textContent ?? "")).toContain(span);
    }
    const sourceYears = await page.$$eval("#sources tbody tr", (rows) =>
      rows.map((row) => [row.children[0]?.textContent?.trim(), row.children[1]?.textContent?.trim()]),
    );
    for (const [source, reference] of files) {
      const own = [...reference.years.keys()].filter((year) => year !== null);
      const first = Math.min(...own);
      const last = Math.max(...own);
      expect(sourceYears).toContainEqual([source, first === last ? String(first) : `${first}–${last}`]);
    }
  });

  it("lists the rejects' reasons and each source's newest run", async () => {
    const rejects = await page.$eval("#rejects", (section) => section.textContent ?? "");
    // Norte's three rejects, by kind (the counts pipeline_runs keeps), each with its source line.
    expect(rejects).toContain("1 × caminhao: negative count (line 205)");
    expect(rejects).toContain("1 × caminhao: not a whole number (line 124)");
    expect(rejects).toContain("1 × wrong number of fields (line 53)");
    const lineage = await page.$$eval("#lineage tbody tr", (rows) =>
      rows.map((row) => [...row.children].map((cell) => cell.textContent?.trim())),
    );
    expect(lineage.map((row) => row[0])).toEqual([
      "amostra_hostil",
      "amostra_via_norte",
      "amostra_via_sul_bom",
    ]);
    for (const row of lineage) {
      expect(row[1]).toBe("succeeded");
      expect(row[3]).toMatch(/sha256 [0-9a-f]{12}…, [\d,]+ bytes$/);
      expect(row[6]).toBe("this run's");
    }
    const digests = await page.$$eval("#lineage code[title]", (codes) => codes.map((code) => code.title));
    for (const digest of digests) expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(digests).toHaveLength(3);
  });

  it("leaves the bundled samples out unless asked, naming them", async () => {
    const path = join(dataDir, "out", "without-samples.html");
    const { out, io: cli } = io();
    expect(await runRoadtoll(["report", "--out", path, ...databaseArgs()], cli), out.stderr).toBe(0);
    const other = await browser.newPage();
    try {
      await other.goto(pathToFileURL(path).href, { waitUntil: "load" });
      expect(await other.$eval("#left-out", (element) => element.textContent)).toBe(
        "Left out of every figure below: 2 sources (amostra_via_norte, amostra_via_sul_bom). They are the " +
          "bundled samples: roadtoll report --include-samples shows them.",
      );
      const hostile = (await references()).get("amostra_hostil");
      const deaths = await other.$eval('#headline [data-figure="deaths"]', (element) => element.textContent);
      expect(Number(deaths?.replaceAll(",", ""))).toBe(hostile?.totalDeaths);
      expect(
        await other.$$eval("#sources tbody th", (cells) => cells.map((cell) => cell.textContent)),
      ).toEqual(["amostra_hostil"]);
      expect(
        await other.$$eval("#lineage tbody th", (cells) => cells.map((cell) => cell.textContent)),
      ).toEqual(["amostra_hostil"]);
    } finally {
      await other.close();
    }
  });

  it("reads at 1280 px without sideways scrolling: long names and links wrap", async () => {
    await page.setViewport({ width: 1280, height: 900 });
    expect(await page.$eval("html", (html) => html.scrollWidth)).toBeLessThanOrEqual(1280);
    const overflowing = await page.$$eval(".scroll", (boxes) =>
      boxes
        .filter((box) => box.scrollWidth > box.clientWidth + 1)
        .map((box) => `${box.closest("section")?.id}: ${box.scrollWidth} > ${box.clientWidth}`),
    );
    expect(overflowing).toEqual([]);
    await page.setViewport({ width: 1200, height: 900 });
  });

  it("fits a phone's width (wide tables scroll inside their box) and prints", async () => {
    await page.setViewport({ width: 390, height: 844 });
    expect(await page.$eval("html", (html) => html.scrollWidth)).toBeLessThanOrEqual(390);
    await page.emulateMediaType("print");
    const pdf = await page.pdf({ format: "A4" });
    expect(Buffer.from(pdf).subarray(0, 5).toString()).toBe("%PDF-");
    await page.emulateMediaType(undefined);
    await page.setViewport({ width: 1200, height: 900 });
  });
});
