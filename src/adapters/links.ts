import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import * as z from "zod";
import { RoadtollError } from "../errors.js";

/** link.yml: concessionaire name → CSV URL. */
const linksSchema = z.record(
  z.string().regex(/^[A-Za-z0-9_-]+$/, "names are letters, digits, _ and -"),
  z.url(),
);
export type Links = Readonly<Record<string, string>>;

export async function loadLinks(path: string): Promise<Links> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new RoadtollError("ConfigError", `cannot read the links file: ${(error as Error).message}`, {
      cause: error,
      where: { file: path },
    });
  }
  const result = linksSchema.safeParse(parse(text));
  if (!result.success) {
    const problem = result.error.issues[0];
    throw new RoadtollError(
      "ConfigError",
      `invalid links file: ${problem?.message ?? "not a name → URL map"}`,
      {
        cause: result.error,
        where: { file: path, column: problem?.path.join(".") },
      },
    );
  }
  return result.data;
}
