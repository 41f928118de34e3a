/**
 * Writes the bundled sample files (samples/*.csv): small, synthetic, and in the real ANTT format with every quirk
 * the published files have, so the default `npm start` and the tests exercise the same code paths real data does.
 * Deterministic (seeded), so regenerating gives identical bytes; tests/samples.test.ts checks that.
 *
 * Quirks reproduced: ISO-8859-1 (and UTF-8 with BOM in one file), `;` delimiter, one header row, `\n` line ends,
 * no quoting while some fields contain double quotes, decimal-comma `km`, empty and space-only count cells,
 * negative counts, one road spelled several ways, local road names. Plus what the pipeline must survive: a row
 * with a missing field, a non-numeric count, a trailing blank line.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const HEADER =
  "data;horario;n_da_ocorrencia;tipo_de_ocorrencia;km;trecho;sentido;tipo_de_acidente;automovel;bicicleta;caminhao;moto;onibus;outros;tracao_animal;transporte_de_cargas_especiais;trator_maquinas;utilitarios;ilesos;levemente_feridos;moderadamente_feridos;gravemente_feridos;mortos";

const ACCIDENT_TYPES = [
  "Colisão - Traseira",
  "Colisão - Lateral",
  "Tombamento",
  'Choque - Defensa, barreira ou "submarino"',
  "Atropelamento - Pessoa",
  "Saída de pista",
];
const SENTIDOS = ["Norte", "Sul", "Crescente", "Decrescente"];

interface SampleSpec {
  file: string;
  encoding: "latin1" | "utf8-bom";
  rows: number;
  seed: number;
  /** Road spellings, each with a weight: the same road appears in several forms on purpose. */
  roads: ReadonlyArray<readonly [string, number]>;
  /** Extra lines placed verbatim after the given data row index. */
  oddities: ReadonlyArray<readonly [number, string]>;
}

export const SAMPLES: readonly SampleSpec[] = [
  {
    file: "amostra_via_norte.csv",
    encoding: "latin1",
    rows: 400,
    seed: 7,
    roads: [
      ["BR-116/BA", 30],
      ["BR-116/BA - Cont VC", 6],
      ["BR-070/MT", 10],
      ["BR-70/MT", 4],
      ["BA-526", 4],
      ["526/BA", 2],
      ["Contorno", 3],
      ["CONTORNO", 2],
      ["Contorno de Uberlândia/MG", 2],
    ],
    oddities: [
      // A row with one field missing (22 instead of 23).
      [50, "12/03/2021;14:10:00;9001;com vítima;101;BR-116/BA;Norte;Tombamento;1;;;;;;;;;;;;;1"],
      // A count that is not a number.
      [120, "13/03/2021;08:00:00;9002;com vítima;12,5;BR-116/BA;Sul;Tombamento;1;;x;;;;;;;;;;;;2"],
      // A negative truck count, as ViaSul publishes.
      [200, "14/03/2021;09:30:00;9003;com vítima;7;BR-070/MT;Sul;Tombamento;1;0;-1;0;1;0;0;0;0;0;0;0;1;0;1"],
      // Space-only cells mean zero.
      [300, "15/03/2021;22:45:10;9004;com vítima;88;BR-70/MT;Norte;Colisão - Lateral;  ; ;1;   ;;;;;;;;;;;2"],
    ],
  },
  {
    file: "amostra_via_sul_bom.csv",
    encoding: "utf8-bom",
    rows: 150,
    seed: 11,
    roads: [
      ["BR-101/SC", 20],
      ["BR-101/SC (Contorno de Florianópolis)", 3],
      ["Acessos Niterói", 2],
    ],
    oddities: [],
  },
];

/** Mulberry32: tiny, seedable, good enough to vary synthetic rows reproducibly. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(next: () => number, items: ReadonlyArray<readonly [T, number]>): T {
  const total = items.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = next() * total;
  for (const [item, weight] of items) {
    roll -= weight;
    if (roll < 0) return item;
  }
  return (items.at(-1) as readonly [T, number])[0];
}

/** A count cell: mostly empty (= 0) as in the real files, sometimes "0", sometimes a small number. */
function count(next: () => number, probability: number, max: number): string {
  if (next() >= probability) return next() < 0.7 ? "" : "0";
  return String(1 + Math.floor(next() * max));
}

export function renderSample(spec: SampleSpec): Buffer {
  const next = random(spec.seed);
  const lines = [HEADER];
  for (let i = 0; i < spec.rows; i++) {
    const day = String(1 + (i % 28)).padStart(2, "0");
    const month = String(1 + (Math.floor(i / 28) % 12)).padStart(2, "0");
    const time = `${String(Math.floor(next() * 24)).padStart(2, "0")}:${String(Math.floor(next() * 60)).padStart(2, "0")}:00`;
    const km =
      next() < 0.3
        ? `${Math.floor(next() * 500)},${Math.floor(next() * 10)}`
        : String(Math.floor(next() * 500));
    const mortos = next() < 0.12 ? String(1 + Math.floor(next() * 3)) : next() < 0.5 ? "" : "0";
    lines.push(
      [
        `${day}/${month}/2021`,
        time,
        String(i + 1),
        mortos !== "" && mortos !== "0" ? "com vítima" : "Sem vítima",
        km,
        pick(next, spec.roads),
        SENTIDOS[Math.floor(next() * SENTIDOS.length)],
        ACCIDENT_TYPES[Math.floor(next() * ACCIDENT_TYPES.length)],
        count(next, 0.7, 3), // automovel
        count(next, 0.03, 1), // bicicleta
        count(next, 0.3, 2), // caminhao
        count(next, 0.2, 2), // moto
        count(next, 0.05, 1), // onibus
        count(next, 0.02, 1),
        count(next, 0.01, 1),
        count(next, 0.01, 1),
        count(next, 0.01, 1),
        count(next, 0.1, 1),
        count(next, 0.6, 3),
        count(next, 0.3, 2),
        count(next, 0.1, 1),
        count(next, 0.05, 1),
        mortos,
      ].join(";"),
    );
    for (const [after, line] of spec.oddities) if (after === i) lines.push(line);
  }
  const text = `${lines.join("\n")}\n\n`;
  return spec.encoding === "latin1"
    ? Buffer.from(text, "latin1")
    : Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, "utf8")]);
}

export const SAMPLES_DIR = fileURLToPath(new URL("../samples/", import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const spec of SAMPLES) {
    writeFileSync(`${SAMPLES_DIR}${spec.file}`, renderSample(spec));
    console.log(`wrote samples/${spec.file}`);
  }
}
