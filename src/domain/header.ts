import { RoadtollError } from "../errors.js";
import { REQUIRED_COLUMNS } from "./columns.js";
import { displayText } from "./safe-text.js";

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
        where: { resource: file, line: 1 },
      });
    }
    if (index.has(name)) {
      throw new RoadtollError("HeaderError", `header has column "${displayText(name, NAME_SHOWN)}" twice`, {
        where: { resource: file, line: 1, column: name },
      });
    }
    index.set(name, position);
  });
  const missing = REQUIRED_COLUMNS.filter((name) => !index.has(name));
  if (missing.length > 0) {
    throw new RoadtollError(
      "HeaderError",
      `missing required column${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (${found(columns, index)})`,
      { where: { resource: file, line: 1 } },
    );
  }
  return { columns, index };
}

/** What a missing-column error quotes of the header: never more than a short, visible excerpt. */
const COLUMNS_SHOWN = 30;
const NAME_SHOWN = 40;

/**
 * The header's columns, for a file that is an accident file with columns missing. A first line with none of the
 * required columns is not a header at all (an HTML page, a service's answer to a link that was not a CSV): it is
 * not quoted, so an error never carries what some other server returned.
 */
function found(columns: readonly string[], index: ReadonlyMap<string, number>): string {
  if (!REQUIRED_COLUMNS.some((name) => index.has(name))) {
    return `the first line has ${columns.length} field${columns.length === 1 ? "" : "s"}, none of them a column of an accident file; not quoted`;
  }
  const shown = columns.slice(0, COLUMNS_SHOWN).map((name) => displayText(name, NAME_SHOWN));
  const more = columns.length - shown.length;
  return `found: ${shown.join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
}
