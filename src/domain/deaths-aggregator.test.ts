import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatCsvRow } from "./csv-format.js";
import { CsvReader, type CsvRecord } from "./csv-reader.js";
import { DeathsAggregator, metricColumnsFrom, type RoadDeaths, zeroDeaths } from "./deaths-aggregator.js";

/** Row layout for these tests: road_name, the five vehicles in VEHICLES order, then mortos. */
const COLUMNS = ["road_name", "automovel", "bicicleta", "caminhao", "moto", "onibus", "mortos"];
const INDEX = new Map(COLUMNS.map((name, position) => [name, position]));

function aggregator(): DeathsAggregator {
  return new DeathsAggregator(metricColumnsFrom(INDEX, "road_name"));
}

/** The record the reader yields for these fields, written as a clean CSV row. */
function record(fields: readonly string[]): CsvRecord {
  let result: CsvRecord | undefined;
  const reader = new CsvReader({
    file: "test.csv",
    delimiter: 0x2c,
    onRecord: (read) => {
      result = read;
    },
  });
  reader.push(Buffer.from(formatCsvRow(fields)));
  reader.end();
  if (!result) throw new Error(`no record for ${JSON.stringify(fields)}`);
  return result;
}

/** A row from road, the five vehicle counts and mortos. */
function row(
  road: string,
  [automovel, bicicleta, caminhao, moto, onibus]: readonly string[],
  mortos: string,
): CsvRecord {
  return record([road, automovel ?? "", bicicleta ?? "", caminhao ?? "", moto ?? "", onibus ?? "", mortos]);
}

function road(name: string, total: number, deaths: Partial<RoadDeaths["byVehicle"]>): RoadDeaths {
  return { road: name, byVehicle: { ...zeroDeaths(), ...deaths }, total };
}

describe("metricColumnsFrom", () => {
  it("maps every metric column to its position", () => {
    expect(metricColumnsFrom(INDEX, "road_name")).toEqual({
      roadName: 0,
      mortos: 6,
      vehicles: [
        ["automovel", 1],
        ["bicicleta", 2],
        ["caminhao", 3],
        ["moto", 4],
        ["onibus", 5],
      ],
    });
  });

  it("throws when a column is missing", () => {
    expect(() => metricColumnsFrom(new Map([["road_name", 0]]), "road_name")).toThrow(
      "column mortos missing from a validated header",
    );
  });
});

describe("DeathsAggregator", () => {
  it("computes per-road, per-vehicle deaths over a hand-made set of rows", () => {
    const deaths = aggregator();
    const rows = [
      row("BR-116/BA", ["1", "", "", "1", ""], "2"), // automovel + moto → both +2, total +2
      row("BR-116/BA", ["", "", "2", "", ""], "1"), // caminhao +1, total +1
      row("BR-116/BA", ["3", " ", "", "  ", "0"], "1"), // blank/space/0 cells are 0 → only automovel +1
      row("BR-116/BA", ["", "", "", "", ""], "4"), // no vehicle listed → only total +4
      row("BA-526", ["", "1", "", "", "1"], "3"), // bicicleta + onibus → both +3
      row("BA-526", ["2", "", "", "", ""], ""), // mortos blank = 0 → accepted, adds nothing
      row("CONTORNO", ["1", "1", "1", "1", "1"], " 5 "), // every vehicle → all +5
    ];
    for (const fields of rows) expect(deaths.add(fields)).toBeUndefined();

    // BR-116/BA: automovel 2 + 1 = 3, caminhao 1, moto 2, total 2 + 1 + 1 + 4 = 8.
    // BA-526: bicicleta 3, onibus 3, total 3 + 0 = 3.  CONTORNO: 5 everywhere, total 5.
    expect([...deaths.roads()]).toEqual([
      road("BA-526", 3, { bicicleta: 3, onibus: 3 }),
      road("BR-116/BA", 8, { automovel: 3, caminhao: 1, moto: 2 }),
      road("CONTORNO", 5, { automovel: 5, bicicleta: 5, caminhao: 5, moto: 5, onibus: 5 }),
    ]);
    expect(deaths.rowsAccepted).toBe(7);
    expect(deaths.totalDeaths).toBe(8 + 3 + 5);
  });

  it("counts one accident's deaths once per vehicle type involved, however many of that type", () => {
    const deaths = aggregator();
    deaths.add(row("BR-101/ES", ["4", "", "", "", ""], "2")); // 4 cars, still 2 deaths for automovel
    expect([...deaths.roads()]).toEqual([road("BR-101/ES", 2, { automovel: 2 })]);
  });

  it("gives a road with deaths only in accidents without listed vehicles all five vehicles at zero", () => {
    const deaths = aggregator();
    deaths.add(row("PT", ["", "", "", "", ""], "1"));
    expect([...deaths.roads()]).toEqual([
      { road: "PT", byVehicle: { automovel: 0, bicicleta: 0, caminhao: 0, moto: 0, onibus: 0 }, total: 1 },
    ]);
  });

  it("sorts roads by name whatever the order rows arrive in", () => {
    const deaths = aggregator();
    for (const name of ["CONTORNO", "BR-070/MT", "BA-526", "BR-040/MG"]) {
      deaths.add(row(name, ["", "", "", "", ""], "0"));
    }
    expect([...deaths.roads()].map((entry) => entry.road)).toEqual([
      "BA-526",
      "BR-040/MG",
      "BR-070/MT",
      "CONTORNO",
    ]);
  });

  it("trims the road name, so padded and unpadded names are one road", () => {
    const deaths = aggregator();
    deaths.add(row(" BR-070/MT ", ["1", "", "", "", ""], "1"));
    deaths.add(row("BR-070/MT", ["1", "", "", "", ""], "1"));
    expect([...deaths.roads()]).toEqual([road("BR-070/MT", 2, { automovel: 2 })]);
  });

  it.each([
    [
      "negative vehicle count",
      row("BR-116/BA", ["1", "", "-1", "", ""], "7"),
      "caminhao",
      "negative count -1",
    ],
    [
      "non-numeric vehicle count",
      row("BR-116/BA", ["1", "", "", "x", ""], "7"),
      "moto",
      'not a whole number: "x"',
    ],
    [
      "decimal vehicle count",
      row("BR-116/BA", ["", "", "", "", "1,5"], "7"),
      "onibus",
      'not a whole number: "1,5"',
    ],
    ["negative mortos", row("BR-116/BA", ["1", "", "", "", ""], "-2"), "mortos", "negative count -2"],
    [
      "non-numeric mortos",
      row("BR-116/BA", ["1", "", "", "", ""], "dois"),
      "mortos",
      'not a whole number: "dois"',
    ],
    ["empty road", row("", ["1", "", "", "", ""], "7"), "trecho", "no road name"],
    ["space-only road", row("   ", ["1", "", "", "", ""], "7"), "trecho", "no road name"],
  ])("rejects a row with a %s, naming the column, and changes nothing", (_case, fields, column, reason) => {
    const deaths = aggregator();
    deaths.add(row("BR-116/BA", ["1", "", "", "", ""], "2"));
    const before = [...deaths.roads()];

    expect(deaths.add(fields)).toMatchObject({ column, reason });

    expect([...deaths.roads()]).toEqual(before);
    expect([...deaths.roads()]).toEqual([road("BR-116/BA", 2, { automovel: 2 })]);
    expect(deaths.rowsAccepted).toBe(1);
    expect(deaths.totalDeaths).toBe(2);
  });

  it("does not create a road for a rejected row whose road has not been seen yet", () => {
    const deaths = aggregator();
    // The automovel count is valid and comes before the bad one: the row must still count for nothing.
    expect(deaths.add(row("BR-999/XX", ["1", "", "", "", "-1"], "3"))).toEqual({
      column: "onibus",
      kind: "negative count",
      reason: "negative count -1",
    });
    expect([...deaths.roads()]).toEqual([]);
    expect(deaths.rowsAccepted).toBe(0);
    expect(deaths.totalDeaths).toBe(0);
  });

  it("keeps every figure exact: the row that would take the file's deaths past 2^53 − 1 is rejected, alone", () => {
    const deaths = aggregator();
    const half = String(2 ** 52);
    expect(deaths.add(row("BR-101/SC", ["1", "", "", "", ""], half))).toBeUndefined();
    // A new road, a new year: the bound is the file's, so no road's, year's or vehicle's figure can pass it.
    expect(deaths.add(row("BR-116/BA", ["", "", "", "1", ""], String(2 ** 52)))).toEqual({
      column: "mortos",
      kind: "file total too large",
      reason: "with this row the file's deaths would pass 9,007,199,254,740,991",
    });
    expect(deaths.add(row("BR-116/BA", ["", "", "", "1", ""], String(2 ** 52 - 1)))).toBeUndefined();
    expect(deaths.totalDeaths).toBe(Number.MAX_SAFE_INTEGER);
    expect([...deaths.roads()]).toEqual([
      road("BR-101/SC", 2 ** 52, { automovel: 2 ** 52 }),
      road("BR-116/BA", 2 ** 52 - 1, { moto: 2 ** 52 - 1 }),
    ]);
    expect(deaths.add(row("BR-116/BA", ["", "", "", "1", ""], "1"))).toMatchObject({
      kind: "file total too large",
    });
    // A row with no deaths still counts as an accident.
    expect(deaths.add(row("BR-116/BA", ["", "", "", "1", ""], "0"))).toBeUndefined();
    expect(deaths.rowsAccepted).toBe(3);
  });

  it("reads missing trailing cells of a short row as zero", () => {
    const deaths = aggregator();
    // Only road, automovel, bicicleta: caminhao, moto, onibus and mortos are absent → 0.
    expect(deaths.add(record(["BR-116/BA", "1", ""]))).toBeUndefined();
    expect([...deaths.roads()]).toEqual([road("BR-116/BA", 0, {})]);
  });

  it("returns copies, so changing a result does not change the aggregator", () => {
    const deaths = aggregator();
    deaths.add(row("BR-116/BA", ["1", "", "", "", ""], "2"));
    const first = [...deaths.roads()];
    (first[0] as RoadDeaths).byVehicle.automovel = 99;
    expect([...deaths.roads()]).toEqual([road("BR-116/BA", 2, { automovel: 2 })]);
  });

  it("starts empty", () => {
    const deaths = aggregator();
    expect([...deaths.roads()]).toEqual([]);
    expect(deaths.rowsAccepted).toBe(0);
    expect(deaths.totalDeaths).toBe(0);
  });
});

describe("DeathsAggregator.roadYears", () => {
  /** Rows with a `data` column first: data, road_name, the five vehicles, mortos. */
  const DATED = new Map(["data", ...COLUMNS].map((name, position) => [name, position]));
  const dated = (date: string, road: string, vehicles: readonly string[], mortos: string) =>
    record([date, road, ...vehicles, mortos]);

  it("counts each road's accepted rows and their deaths per year, an unreadable date under null", () => {
    const deaths = new DeathsAggregator(metricColumnsFrom(DATED, "road_name"));
    const rows = [
      dated("01/01/2020", "BR-101", ["1", "", "", "1", ""], "2"), // 2020: 1 accident, 2 deaths, automovel+moto 2
      dated("05/06/2020", "BR-101", ["", "", "", "", ""], "1"), // 2020: no vehicle → deaths only
      dated("2021-03-04", "BR-101", ["", "", "1", "", ""], "3"), // 2021 (ISO): caminhao 3
      dated("31/02/20", "BR-101", ["1", "", "", "", ""], "1"), // no year: row kept, year null
      dated("", "BA-526", ["", "1", "", "", ""], ""), // blank date and blank mortos: 1 accident, 0 deaths
      dated("02/01/2020", "BR-101", ["-1", "", "", "", ""], "9"), // rejected: counted nowhere
    ];
    expect(rows.map((row) => deaths.add(row))).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      { column: "automovel", kind: "negative count", reason: "negative count -1" },
    ]);
    const figures = (
      year: number | null,
      road: string,
      accidents: number,
      total: number,
      byVehicle = {},
    ) => ({
      road,
      year,
      accidents,
      deaths: total,
      byVehicle: { ...zeroDeaths(), ...byVehicle },
    });
    expect([...deaths.roadYears()]).toEqual([
      figures(null, "BA-526", 1, 0),
      figures(2020, "BR-101", 2, 3, { automovel: 2, moto: 2 }),
      figures(2021, "BR-101", 1, 3, { caminhao: 3 }),
      figures(null, "BR-101", 1, 1, { automovel: 1 }),
    ]);
  });

  it("puts every row under null when the file has no data column", () => {
    const deaths = aggregator();
    deaths.add(row("BR-101", ["1", "", "", "", ""], "1"));
    expect([...deaths.roadYears()].map(({ year, accidents }) => [year, accidents])).toEqual([[null, 1]]);
  });

  it("adds up, for any rows, to the metric per road, to the accepted rows and to the total deaths", () => {
    const cell = fc.constantFrom("", " ", "0", "1", "2", "7", "-1", "x");
    const input = fc.array(
      fc.record({
        date: fc.constantFrom("01/01/2019", "9/9/2020", "2021-12-31", "31/12/2021", "", "13/13/2013", "n/a"),
        road: fc.constantFrom("BR-101", "BR-116", " BR-101 ", ""),
        vehicles: fc.array(cell, { minLength: 5, maxLength: 5 }),
        mortos: cell,
      }),
      { maxLength: 60 },
    );
    fc.assert(
      fc.property(input, (rows) => {
        const deaths = new DeathsAggregator(metricColumnsFrom(DATED, "road_name"));
        for (const { date, road, vehicles, mortos } of rows) deaths.add(dated(date, road, vehicles, mortos));
        const years = [...deaths.roadYears()];
        expect(years.reduce((sum, figures) => sum + figures.accidents, 0)).toBe(deaths.rowsAccepted);
        expect(years.reduce((sum, figures) => sum + figures.deaths, 0)).toBe(deaths.totalDeaths);
        for (const { road, byVehicle, total } of [...deaths.roads()]) {
          const own = years.filter((figures) => figures.road === road);
          expect(own.reduce((sum, figures) => sum + figures.deaths, 0)).toBe(total);
          for (const vehicle of Object.keys(byVehicle) as (keyof typeof byVehicle)[]) {
            expect(own.reduce((sum, figures) => sum + figures.byVehicle[vehicle], 0)).toBe(
              byVehicle[vehicle],
            );
          }
        }
        // One entry per road and year, in order, the unknown year last.
        const keys = years.map(({ road, year }) => `${road}|${year ?? 9999}`);
        expect(keys).toEqual([...new Set(keys)].sort());
      }),
      { numRuns: 300 },
    );
  });
});

describe("DeathsAggregator at scale", () => {
  const DATED = new Map(["data", ...COLUMNS].map((name, position) => [name, position]));

  it("keeps 30,000 roads' years apart, rows of a road scattered over the file, as a plain map computes them", () => {
    // More buckets than one storage chunk holds, years revisited out of order: every figure is compared with a
    // reference kept in plain objects.
    const deaths = new DeathsAggregator(metricColumnsFrom(DATED, "road_name"));
    const reference = new Map<
      string,
      { years: Map<number | null, number[]>; byVehicle: number[]; total: number }
    >();
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 90_000; i++) {
      const name = `R-${next(30_000)}`;
      const year = next(5) === 0 ? null : 2010 + next(4);
      const vehicles = [0, 1, 2, 3, 4].map(() => (next(3) === 0 ? "1" : ""));
      const mortos = next(4);
      const cells = [year === null ? "n/a" : `15/06/${year}`, name, ...vehicles, String(mortos)];
      expect(deaths.add(record(cells))).toBeUndefined();
      const road = reference.get(name) ?? { years: new Map(), byVehicle: [0, 0, 0, 0, 0], total: 0 };
      reference.set(name, road);
      const bucket = road.years.get(year) ?? [0, 0, 0, 0, 0, 0, 0];
      road.years.set(year, bucket);
      bucket[0] = (bucket[0] as number) + 1;
      bucket[1] = (bucket[1] as number) + mortos;
      road.total += mortos;
      vehicles.forEach((cell, v) => {
        if (cell === "1") {
          bucket[2 + v] = (bucket[2 + v] as number) + mortos;
          road.byVehicle[v] = (road.byVehicle[v] as number) + mortos;
        }
      });
    }
    const vehicles = (counts: readonly number[]) => ({
      automovel: counts[0],
      bicicleta: counts[1],
      caminhao: counts[2],
      moto: counts[3],
      onibus: counts[4],
    });
    const names = [...reference.keys()].sort();
    expect(deaths.roadCount).toBe(names.length);
    expect([...deaths.roads()]).toEqual(
      names.map((name) => {
        const { byVehicle, total } = reference.get(name) ?? { byVehicle: [], total: 0 };
        return { road: name, byVehicle: vehicles(byVehicle), total };
      }),
    );
    expect([...deaths.roadYears()]).toEqual(
      names.flatMap((name) =>
        [...(reference.get(name)?.years ?? [])]
          .sort(([a], [b]) => (a ?? 9999) - (b ?? 9999))
          .map(([year, [accidents, total, ...byVehicle]]) => ({
            road: name,
            year,
            accidents,
            deaths: total,
            byVehicle: vehicles(byVehicle),
          })),
      ),
    );
    const everyRoad = [...deaths.roads()];
    expect(deaths.deathsByVehicle()).toEqual(
      vehicles(
        [0, 1, 2, 3, 4].map((v) =>
          everyRoad.reduce((sum, road) => sum + (Object.values(road.byVehicle)[v] ?? 0), 0),
        ),
      ),
    );
    expect(deaths.worstRoads(5)).toEqual(
      everyRoad.sort((a, b) => b.total - a.total || (a.road < b.road ? -1 : 1)).slice(0, 5),
    );
  });
});

describe("DeathsAggregator limits", () => {
  const DATED = new Map(["data", ...COLUMNS].map((name, position) => [name, position]));
  const dated = (date: string, road: string) => record([date, road, "1", "", "", "", "", "1"]);

  it("fails the row that would pass the road-years limit, a new road or a new year of a known one alike", () => {
    const deaths = new DeathsAggregator(metricColumnsFrom(DATED, "road_name"), { maxRoadYears: 3 });
    expect(deaths.add(dated("01/01/2020", "BR-101"))).toBeUndefined();
    expect(deaths.add(dated("01/01/2021", "BR-101"))).toBeUndefined();
    expect(deaths.add(dated("01/01/2020", "BR-116"))).toBeUndefined();
    expect(deaths.add(dated("01/01/2020", "BR-470"))).toMatchObject({ fatal: true, column: "trecho" });
    expect(deaths.add(dated("01/01/2022", "BR-101"))).toMatchObject({
      fatal: true,
      reason: expect.stringContaining("more than 3 distinct road-years"),
    });
    // Known road-years still count, and the refused rows left nothing behind.
    expect(deaths.add(dated("09/09/2021", "BR-101"))).toBeUndefined();
    expect([...deaths.roadYears()].map(({ road, year, accidents }) => [road, year, accidents])).toEqual([
      ["BR-101", 2020, 1],
      ["BR-101", 2021, 2],
      ["BR-116", 2020, 1],
    ]);
    expect(deaths.rowsAccepted).toBe(4);
  });
});
