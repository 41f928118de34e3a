/**
 * A source's name, one rule wherever a name comes from (link.yml, `--link NAME=URL`, `--source`, the HTTP API, an
 * event, a URL's or a landing key's file name): letters, digits, `_` and `-`, 1 to 100 of them. It becomes part of
 * S3 keys and is shown in tables, so nothing else is let in. No zod here: the CLI's argument check loads none.
 */
export const SOURCE_NAME_MAX = 100;
export const SOURCE_NAME = new RegExp(`^[A-Za-z0-9_-]{1,${SOURCE_NAME_MAX}}$`);

/** The rule, as every refusal states it. */
export const SOURCE_NAME_RULE = `letters, digits, _ and - (1 to ${SOURCE_NAME_MAX})`;

export function isSourceName(name: string): boolean {
  return SOURCE_NAME.test(name);
}

/** Any text made a source name: each run of other characters becomes `_`, cut to the limit; `fallback` if empty. */
export function toSourceName(text: string, fallback: string): string {
  return text.replace(/[^A-Za-z0-9_-]+/g, "_").slice(0, SOURCE_NAME_MAX) || fallback;
}
