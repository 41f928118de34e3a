import { readFile } from "node:fs/promises";
import { isMap, isScalar, LineCounter, parseDocument } from "yaml";
import { isSourceName, SOURCE_NAME_RULE } from "../contracts/source-name.js";
import { RoadtollError } from "../errors.js";

/** link.yml: concessionaire name → CSV URL. A name-keyed object without a prototype: `constructor` is no link. */
export type Links = Readonly<Record<string, string>>;

export async function loadLinks(path: string): Promise<Links> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new RoadtollError("ConfigError", `cannot read the links file: ${(error as Error).message}`, {
      cause: error,
      where: { resource: path },
    });
  }
  return parseLinks(text, path);
}

/**
 * link.yml's text, checked by the rules `--link` applies: a map of names (letters, digits, _ and -), each once, to
 * http(s) URLs. Read from the YAML document's pairs rather than as a plain object, so that every name is kept as
 * written (`__proto__` included) and a repeated name is found with a set, in time linear in the file.
 */
export function parseLinks(text: string, where: string): Links {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { uniqueKeys: false, lineCounter });
  const fail = (message: string, offset?: number, cause?: unknown): never => {
    throw new RoadtollError("ConfigError", message, {
      cause,
      where: { resource: where, ...(offset === undefined ? {} : { line: lineCounter.linePos(offset).line }) },
    });
  };
  const [error] = document.errors;
  if (error) fail(`the links file is not YAML: ${error.message}`, error.pos[0], error);
  const contents = document.contents;
  const links: Record<string, string> = Object.create(null);
  if (contents === null || (isScalar(contents) && contents.value === null)) return links;
  if (!isMap(contents)) return fail("invalid links file: not a map of names to URLs", contents.range?.[0]);
  for (const pair of contents.items) {
    const key = isScalar(pair.key) ? pair.key : undefined;
    const at = key?.range?.[0];
    const name = key === undefined ? undefined : String(key.value);
    if (name === undefined || !isSourceName(name)) {
      return fail(
        `invalid links file: ${JSON.stringify(name ?? "(not a name)")}: a name is ${SOURCE_NAME_RULE}`,
        at,
      );
    }
    if (Object.hasOwn(links, name)) return fail(`invalid links file: the name ${name} appears twice`, at);
    const value = isScalar(pair.value) ? pair.value.value : undefined;
    links[name] = httpUrl(value, name, (message) => fail(message, pair.value?.range?.[0] ?? at));
  }
  return links;
}

function httpUrl(value: unknown, name: string, fail: (message: string) => never): string {
  if (typeof value !== "string") return fail(`invalid links file: ${name}: the link must be a URL`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(`invalid links file: ${name}: not a URL (expected http://… or https://…)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return fail(
      `invalid links file: ${name}: only http and https links can be downloaded, got ${url.protocol}`,
    );
  }
  return value;
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

/**
 * link.yml read when a run first needs it, then kept: `roadtoll serve` starts without reading it, and a file that
 * does not parse fails the run that needed it (ConfigError), not the server, and is read again by the next.
 */
export function linksFromFile(path: string): LinksProvider {
  let loaded: Promise<Links> | undefined;
  return () => {
    loaded ??= loadLinks(path).catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  };
}
