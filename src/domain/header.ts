import { RoadtollError } from "../errors.js";
import { REQUIRED_COLUMNS } from "./columns.js";

/**
 * Normalises one header cell to snake_case ASCII: "Nº da Ocorrência" → "n_da_ocorrencia". ANTT has published the
 * same files with and without accents and with different capitalisation over the years; normalising makes the
 * column lookup independent of that.
 */
export function normaliseColumnName(raw: string): string {
  return raw
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/º|ª/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
}

export interface Header {
  columns: string[];
  /** Position of each column name in a row. */
  index: ReadonlyMap<string, number>;
}

/** Normalises a header row and checks it has every required column, naming each one that is missing. */
export function parseHeader(cells: readonly string[], file: string): Header {
  const columns = cells.map(normaliseColumnName);
  const index = new Map<string, number>();
  columns.forEach((name, position) => {
    if (name === "") {
      throw new RoadtollError("HeaderError", `header column ${position + 1} is empty`, {
        where: { file, line: 1 },
      });
    }
    if (index.has(name)) {
      throw new RoadtollError("HeaderError", `header has column "${name}" twice`, {
        where: { file, line: 1, column: name },
      });
    }
    index.set(name, position);
  });
  const missing = REQUIRED_COLUMNS.filter((name) => !index.has(name));
  if (missing.length > 0) {
    throw new RoadtollError(
      "HeaderError",
      `missing required column${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (found: ${columns.join(", ")})`,
      { where: { file, line: 1 } },
    );
  }
  return { columns, index };
}
