import { describe, expect, it } from "vitest";
import { RoadtollError } from "../errors.js";
import { normaliseColumnName, parseHeader } from "./header.js";

/** The header exactly as ANTT publishes it (see ../shared/README.md). */
const ANTT_HEADER =
  "data;horario;n_da_ocorrencia;tipo_de_ocorrencia;km;trecho;sentido;tipo_de_acidente;automovel;bicicleta;caminhao;moto;onibus;outros;tracao_animal;transporte_de_cargas_especiais;trator_maquinas;utilitarios;ilesos;levemente_feridos;moderadamente_feridos;gravemente_feridos;mortos".split(
    ";",
  );

function headerErrorFrom(cells: readonly string[]): RoadtollError {
  try {
    parseHeader(cells, "h.csv");
  } catch (error) {
    expect(error).toBeInstanceOf(RoadtollError);
    return error as RoadtollError;
  }
  throw new Error("expected parseHeader to throw");
}

describe("normaliseColumnName", () => {
  it.each([
    ["Nº da Ocorrência", "n_da_ocorrencia"],
    ["Tipo de Acidente", "tipo_de_acidente"],
    ["MORTOS ", "mortos"],
    ["Automóvel", "automovel"],
    ["Caminhão", "caminhao"],
    ["Ônibus", "onibus"],
    ["Tração Animal", "tracao_animal"],
    ["Trator / Máquinas", "trator_maquinas"],
    ["  Levemente   Feridos  ", "levemente_feridos"],
    ["1ª Via", "1_via"],
    ["mortos", "mortos"],
  ])("%j → %j", (raw, expected) => {
    expect(normaliseColumnName(raw)).toBe(expected);
  });

  it("turns a cell of only symbols into an empty name", () => {
    expect(normaliseColumnName(" º - ")).toBe("");
  });
});

describe("parseHeader", () => {
  it("accepts the real ANTT header and indexes every column by position", () => {
    const header = parseHeader(ANTT_HEADER, "h.csv");
    expect(header.columns).toEqual(ANTT_HEADER);
    expect(header.index.get("data")).toBe(0);
    expect(header.index.get("trecho")).toBe(5);
    expect(header.index.get("automovel")).toBe(8);
    expect(header.index.get("onibus")).toBe(12);
    expect(header.index.get("mortos")).toBe(22);
    expect(header.index.size).toBe(23);
  });

  it("normalises accented, capitalised and padded header cells before looking columns up", () => {
    const header = parseHeader(
      ["Nº da Ocorrência", "Trecho", "Automóvel", "Bicicleta", "Caminhão", "Moto", "Ônibus", "MORTOS "],
      "h.csv",
    );
    expect(header.columns).toEqual([
      "n_da_ocorrencia",
      "trecho",
      "automovel",
      "bicicleta",
      "caminhao",
      "moto",
      "onibus",
      "mortos",
    ]);
    expect(header.index.get("mortos")).toBe(7);
  });

  it("names every missing required column, with error name HeaderError at line 1", () => {
    const error = headerErrorFrom(["data", "trecho", "bicicleta", "moto", "onibus"]);
    expect(error.name).toBe("HeaderError");
    expect(error.where).toEqual({ resource: "h.csv", line: 1 });
    expect(error.message).toBe(
      "h.csv, line 1: missing required columns automovel, caminhao, mortos (found: data, trecho, bicicleta, moto, onibus)",
    );
  });

  it("never quotes a first line that is not an accident file's header (a service's answer, a page)", () => {
    const error = headerErrorFrom(["canary_secret_metadata"]);
    expect(error.name).toBe("HeaderError");
    expect(error.message).not.toContain("canary");
    expect(error.message).toContain("the first line has 1 field, none of them a column of an accident file");
  });

  it("quotes an accident header's columns briefly: 30 at most, each cut at 40 characters", () => {
    const extra = Array.from({ length: 40 }, (_, i) => `extra_${i}`);
    const error = headerErrorFrom(["trecho", "y".repeat(60), ...extra]);
    expect(error.message).toContain(`(found: trecho, ${"y".repeat(39)}…, extra_0, `);
    expect(error.message).toMatch(/extra_27 and 12 more\)$/);
  });

  it("names a single missing column in the singular", () => {
    const error = headerErrorFrom(ANTT_HEADER.filter((name) => name !== "mortos"));
    expect(error.name).toBe("HeaderError");
    expect(error.message).toMatch(/: missing required column mortos \(found: /);
  });

  it("rejects a column that appears twice after normalisation", () => {
    const error = headerErrorFrom([...ANTT_HEADER, "MORTOS"]);
    expect(error.name).toBe("HeaderError");
    expect(error.where).toEqual({ resource: "h.csv", line: 1, column: "mortos" });
    expect(error.message).toContain('header has column "mortos" twice');
  });

  it("rejects an empty header cell, naming its 1-based position", () => {
    // A trailing ";" on the header line gives a 24th, empty cell.
    const error = headerErrorFrom([...ANTT_HEADER, ""]);
    expect(error.name).toBe("HeaderError");
    expect(error.where).toEqual({ resource: "h.csv", line: 1 });
    expect(error.message).toContain("header column 24 is empty");
  });

  it("rejects a cell that normalises to empty", () => {
    const error = headerErrorFrom(["trecho", " - ", ...ANTT_HEADER.slice(8)]);
    expect(error.name).toBe("HeaderError");
    expect(error.message).toContain("header column 2 is empty");
  });
});
