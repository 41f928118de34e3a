import { describe, expect, it } from "vitest";
import { type ReportData, renderReport, type SourceRun } from "./render-report.js";

const at = new Date("2025-01-01T00:00:00Z");

function data(overrides: Partial<ReportData> = {}): ReportData {
  return {
    generatedAt: at,
    figures: [
      { source: "VIA_A", road: "BR-101/SC", vehicle: "moto", deaths: 4 },
      { source: "VIA_A", road: "BR-101/SC", vehicle: "automovel", deaths: 1 },
      { source: "VIA_B", road: "BR-101/SC", vehicle: "moto", deaths: 2 },
      { source: "VIA_B", road: "BR-116/BA", vehicle: "caminhao", deaths: 9 },
    ],
    snapshots: [
      { source: "VIA_A", createdAt: at },
      { source: "VIA_B", createdAt: at },
    ],
    runs: [],
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
  it("sums a road over the sources that run it, and sorts rows by their sum", () => {
    const html = renderReport(data());
    expect(bars(html, "roads")).toEqual([
      "BR-116/BA caminhao 9",
      "BR-101/SC automovel 1",
      "BR-101/SC moto 6",
    ]);
    expect(bars(html, "vehicles")).toEqual(["automovel automovel 1", "caminhao caminhao 9", "moto moto 6"]);
    expect(bars(html, "sources")).toEqual([
      "VIA_B caminhao 9",
      "VIA_B moto 2",
      "VIA_A automovel 1",
      "VIA_A moto 4",
    ]);
  });

  it("escapes every name from outside, in text and attributes", () => {
    const hostile = `"><script>alert('x')</script>&`;
    const html = renderReport(
      data({
        figures: [{ source: "VIA_A", road: hostile, vehicle: "moto", deaths: 1 }],
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
    const html = renderReport(
      data({
        figures: [],
        snapshots: [],
        runs: [run({})],
      }),
    );
    expect(html).toContain("No figures yet");
    expect(html).not.toContain("<svg");
    expect(html).toContain("not read: no bucket");
    expect(html).toContain("100.0%");
  });
});
