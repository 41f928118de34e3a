import { describe, expect, it } from "vitest";
import { type VehicleDeaths, zeroDeaths } from "../domain/deaths-aggregator.js";
import { type Counted, type ReportData, renderReport, type SourceRun } from "./render-report.js";

const at = new Date("2025-01-01T00:00:00Z");

const counted = (deaths: number, accidents: number, firstYear = 2019, lastYear = 2021): Counted => ({
  accidents,
  deaths,
  firstYear,
  lastYear,
  undated: 0,
});
const involving = (values: Partial<VehicleDeaths>): VehicleDeaths => ({ ...zeroDeaths(), ...values });

/**
 * Two sources and two roads where the metric and the deaths counted once disagree on the order: BR-116/BA has
 * the larger sum of the metric (two types in each accident), BR-101/SC the more deaths.
 */
function data(overrides: Partial<ReportData> = {}): ReportData {
  return {
    generatedAt: at,
    overall: {
      sources: 2,
      roads: 2,
      involving: involving({ automovel: 9, caminhao: 9, moto: 10 }),
      counted: counted(19, 40, 2015, 2021),
    },
    sources: [
      {
        name: "VIA_A",
        roads: 1,
        createdAt: at,
        involving: involving({ moto: 10 }),
        counted: counted(10, 30),
      },
      {
        name: "VIA_B",
        roads: 1,
        createdAt: at,
        involving: involving({ automovel: 9, caminhao: 9 }),
        counted: counted(9, 10, 2015, 2015),
      },
    ],
    unlistedSources: 0,
    worstRoads: [
      { name: "BR-101/SC", sources: ["VIA_A"], involving: involving({ moto: 10 }), counted: counted(10, 30) },
      {
        name: "BR-116/BA",
        sources: ["VIA_B"],
        involving: involving({ automovel: 9, caminhao: 9 }),
        counted: counted(9, 10, 2015, 2015),
      },
    ],
    unlistedRoads: 0,
    uncounted: [],
    runs: [],
    unlistedRuns: 0,
    leftOut: [],
    ...overrides,
  };
}

function run(overrides: Partial<SourceRun>): SourceRun {
  return {
    source: "VIA_A",
    runId: "r",
    status: "rejected",
    ingestedAt: at,
    finishedAt: at,
    origin: null,
    sha256: null,
    bytes: null,
    rowsRead: 10,
    rowsAccepted: 0,
    rowsRejected: 10,
    totalDeaths: 0,
    rejectsKey: "rejects/VIA_A/r.csv",
    error: "TooManyRejectsError",
    reasons: { unavailable: "no bucket" },
    ...overrides,
  };
}

const bars = (html: string, chart: string) =>
  [
    ...html.matchAll(
      new RegExp(
        `<rect [^>]*data-chart="${chart}" data-row="([^"]*)" data-series="(\\w+)" data-value="(\\d+)"`,
        "g",
      ),
    ),
  ]
    .filter((match) => match[3] !== "0")
    .map((match) => `${match[1]} ${match[2]} ${match[3]}`);

describe("renderReport", () => {
  it("heads with deaths counted once, ranks by them, and never adds up the metric", () => {
    const html = renderReport(data());
    expect(html).toMatch(
      /<strong data-figure="deaths">19<\/strong> deaths in <strong data-figure="accidents">40<\/strong> accidents, <span data-figure="years">2015–2021<\/span>/,
    );
    expect(bars(html, "sources")).toEqual(["VIA_A deaths 10", "VIA_B deaths 9"]);
    expect(bars(html, "roads")).toEqual(["BR-101/SC deaths 10", "BR-116/BA deaths 9"]);
    expect(bars(html, "vehicles")).toEqual(["automovel automovel 9", "caminhao caminhao 9", "moto moto 10"]);
    // No column or bar adds the metric up: 18 (BR-116/BA's car + truck) appears nowhere.
    expect(html).not.toMatch(/>sum<|>18</);
    expect(html).toContain("deaths in accidents involving (overlapping: not a breakdown)");
    // Each row says its own years.
    expect(html).toMatch(/VIA_B<\/th><td class="num">2015<\/td>/);
  });

  it("says what it left out and what it did not list", () => {
    const html = renderReport(
      data({
        leftOut: ["amostra_a", "amostra_b"],
        leftOutNote: "roadtoll report --include-samples shows them.",
        unlistedSources: 3,
        unlistedRoads: 40,
        uncounted: ["OLD_SOURCE"],
      }),
    );
    expect(html).toContain("Left out of every figure below: 2 sources (amostra_a, amostra_b).");
    expect(html).toContain("--include-samples shows them.");
    expect(html).toContain("The 3 others are not listed.");
    expect(html).toContain("40 more roads are not listed.");
    expect(html).toMatch(/neither ranked nor in the deaths counted once: OLD_SOURCE/);
  });

  it("escapes every name from outside, in text and attributes", () => {
    const hostile = `"><script>alert('x')</script>&`;
    const html = renderReport(
      data({
        worstRoads: [
          { name: hostile, sources: ["VIA_A"], involving: involving({ moto: 1 }), counted: counted(1, 1) },
        ],
        runs: [
          run({
            origin: `https://x.test/<b>?q="1"`,
            rowsRead: 2,
            rowsAccepted: 1,
            rowsRejected: 1,
            error: "<i>too many</i>",
            reasons: { kinds: [{ kind: "<u>odd</u>", count: 1, lines: [3] }], counted: 1 },
          }),
        ],
      }),
    );
    expect(html).not.toMatch(/<script|<b>|<i>|<u>/);
    expect(html).toContain("&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;");
    expect(html).toContain('data-row="&quot;&gt;&lt;script&gt;');
    expect(html).toContain("https://x.test/&lt;b&gt;?q=&quot;1&quot;");
  });

  it("asks for nothing over the network and forbids it", () => {
    const html = renderReport(data());
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
    expect(html).not.toMatch(/\b(src|href)=|url\(|@import|<script|<link/i);
  });

  it("says there are no figures yet, and why reasons are missing", () => {
    const html = renderReport(data({ overall: null, sources: [], worstRoads: [], runs: [run({})] }));
    expect(html).toContain("No figures yet");
    expect(html).not.toContain("<svg");
    expect(html).toContain("not read: no bucket");
    expect(html).toContain("100.0%");
  });
});
