import { readdir, readFile } from "node:fs/promises";

/**
 * The analytics queries kept as files in ./queries, one statement each, named by their file name without
 * `.sql`. Each file starts with a comment: its first line is the summary `roadtoll sql --list-queries` shows,
 * the rest says what the figures mean. Found next to this module, not the working directory, so `roadtoll sql
 * --query` works wherever it is run from.
 */
export interface NamedQuery {
  name: string;
  /** The leading comment's first line. */
  summary: string;
  /** The whole leading comment, as text. */
  description: string;
  sql: string;
}

const DIRECTORY = new URL("./queries/", import.meta.url);
const EXTENSION = ".sql";

/** Every named query, by name. */
export async function listNamedQueries(): Promise<NamedQuery[]> {
  const files = (await readdir(DIRECTORY)).filter((file) => file.endsWith(EXTENSION)).sort();
  return Promise.all(files.map((file) => readNamedQuery(file.slice(0, -EXTENSION.length))));
}

/** The query of that name, or undefined: only the files listed are read, so a name cannot reach another path. */
export async function findNamedQuery(name: string): Promise<NamedQuery | undefined> {
  return (await listNamedQueries()).find((query) => query.name === name);
}

async function readNamedQuery(name: string): Promise<NamedQuery> {
  const sql = (await readFile(new URL(`${name}${EXTENSION}`, DIRECTORY), "utf8")).trim();
  const comment: string[] = [];
  for (const line of sql.split("\n")) {
    if (!line.startsWith("--")) break;
    comment.push(line.replace(/^--\s?/, "").trimEnd());
  }
  return { name, summary: comment[0] ?? "", description: comment.join(" ").trim(), sql };
}
