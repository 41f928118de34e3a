import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { canonicalRoadName } from "./road-name.js";

describe("canonicalRoadName, rule 1: accents, case, whitespace", () => {
  it.each([
    ["Contorno", "CONTORNO"],
    ["CONTORNO", "CONTORNO"],
    [" contorno ", "CONTORNO"],
    ["Contorno de Uberlândia/MG", "CONTORNO DE UBERLANDIA/MG"],
    ["CONTORNO SUL  - FS/BA", "CONTORNO SUL - FS/BA"],
    ["Descida do\tVão Central", "DESCIDA DO VAO CENTRAL"],
    ["Praça de Pedágio", "PRACA DE PEDAGIO"],
    ["Fora_Rota", "FORA_ROTA"],
    ["", ""],
    ["   ", ""],
  ])("%j → %j", (raw, expected) => {
    expect(canonicalRoadName(raw)).toBe(expected);
  });
});

describe("canonicalRoadName, rule 2: federal road with state", () => {
  it.each([
    ["BR-116/BA", "BR-116/BA"],
    ["BR-70/MT", "BR-070/MT"],
    ["BR-070/MT", "BR-070/MT"],
    ["BR-40/MG", "BR-040/MG"],
    ["br 040 / mg", "BR-040/MG"],
    ["BR040/MG", "BR-040/MG"],
    ["BR-0070/MT", "BR-070/MT"],
  ])("%j → %j", (raw, expected) => {
    expect(canonicalRoadName(raw)).toBe(expected);
  });

  it.each([
    ["BR-116/BA - Cont VC", "BR-116/BA"],
    ["BR-116/BA - ContSuFS", "BR-116/BA"],
    ["BR-101/ES (Contorno de Vitória)", "BR-101/ES"],
    ["BR-101/ES (Contorno Iconha)", "BR-101/ES"],
    ["BR-101/SC (Contorno de Florianópolis)", "BR-101/SC"],
  ])("drops the section after the state: %j → %j", (raw, expected) => {
    expect(canonicalRoadName(raw)).toBe(expected);
  });
});

describe("canonicalRoadName, rule 3: state road", () => {
  it.each([
    ["BA-526", "BA-526"],
    ["526/BA", "BA-526"],
    ["528/BA", "BA-528"],
    ["ba - 26", "BA-026"],
    ["BR-101", "BR-101"],
    ["BR-70", "BR-070"],
  ])("%j → %j", (raw, expected) => {
    expect(canonicalRoadName(raw)).toBe(expected);
  });
});

describe("canonicalRoadName, rule 4: local names are kept", () => {
  it.each([
    ["Acessos Niterói", "ACESSOS NITEROI"],
    ["Acesso N 01/RJ", "ACESSO N 01/RJ"],
    ["CONTORNO - VC/BA", "CONTORNO - VC/BA"],
    ["CONTORNO NORTE - FS - 116/BA", "CONTORNO NORTE - FS - 116/BA"],
    ["Contorno de Iconha/ES", "CONTORNO DE ICONHA/ES"],
    ["N01", "N01"],
  ])("%j → %j", (raw, expected) => {
    expect(canonicalRoadName(raw)).toBe(expected);
  });

  it("merges every spelling of one road into one name", () => {
    const spellings = ["BR-070/MT", "BR-70/MT", "br-70/mt", "BR 70 / MT"];
    expect(new Set(spellings.map(canonicalRoadName))).toEqual(new Set(["BR-070/MT"]));
  });
});

const ANTT_DIR = fileURLToPath(new URL("../../../shared/data/antt/", import.meta.url));
const antt = existsSync(ANTT_DIR);

describe.skipIf(!antt)(
  `canonicalRoadName on the real ANTT files${antt ? "" : " (skipped: ../shared/data/antt not present)"}`,
  () => {
    /** Distinct `trecho` values (column 6) across every file: ISO-8859-1, `;`, one header row. */
    function rawSpellings(): Set<string> {
      const spellings = new Set<string>();
      for (const name of readdirSync(ANTT_DIR).filter((file) => file.endsWith(".csv"))) {
        const lines = readFileSync(`${ANTT_DIR}${name}`).toString("latin1").split("\n");
        expect(lines[0]?.split(";")[5]).toBe("trecho");
        for (const line of lines.slice(1)) {
          if (line.trim() === "") continue;
          const trecho = line.split(";")[5];
          if (trecho !== undefined) spellings.add(trecho);
        }
      }
      return spellings;
    }

    it("gives every federal road the form BR-NNN/UF and merges spellings", () => {
      const raw = rawSpellings();
      const canonical = new Set([...raw].map(canonicalRoadName));
      const federal = [...canonical].filter((name) => name.startsWith("BR-"));
      expect(federal.length).toBeGreaterThan(0);
      expect(federal.filter((name) => !/^BR-\d{3}\/[A-Z]{2}$/.test(name))).toEqual([]);
      expect(canonical.size).toBeLessThan(raw.size);
    });
  },
);
