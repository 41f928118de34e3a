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
  return parseLinks(text, path);
}

/** link.yml's text, checked: names are letters, digits, _ and -; every link is a URL. */
export function parseLinks(text: string, where: string): Links {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new RoadtollError("ConfigError", `the links file is not YAML: ${(error as Error).message}`, {
      cause: error,
      where: { file: where },
    });
  }
  const result = linksSchema.safeParse(document ?? {});
  if (!result.success) {
    const problem = result.error.issues[0];
    throw new RoadtollError(
      "ConfigError",
      `invalid links file: ${problem?.message ?? "not a name → URL map"}`,
      {
        cause: result.error,
        where: { file: where, column: problem?.path.join(".") },
      },
    );
  }
  return result.data;
}

/** Where the links come from, for a source of links that is read again while the process lives. */
export type LinksProvider = () => Promise<Links>;

/**
 * The links of a deployed stack: `config/link.yml` in the pipeline's bucket when it is there, so adding a source
 * is an upload, not a rebuild; else the link.yml the image was built with. Read at most once per `ttlMs` (a
 * warm Lambda sees an upload within that time), and a file that does not parse fails the step with ConfigError
 * rather than silently using an older list.
 */
export function linksFromStore(
  store: { readText(key: string): Promise<string | undefined>; bucket: string },
  key: string,
  fallbackFile: string,
  ttlMs = 60_000,
  now: () => number = Date.now,
): LinksProvider {
  let cached: { links: Links; at: number } | undefined;
  return async () => {
    if (cached && now() - cached.at < ttlMs) return cached.links;
    const text = await store.readText(key);
    const links =
      text === undefined ? await loadLinks(fallbackFile) : parseLinks(text, `s3://${store.bucket}/${key}`);
    cached = { links, at: now() };
    return links;
  };
}
