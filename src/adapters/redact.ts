/**
 * Links may carry secrets: `user:password@`, or a token in the query (`?token=…`, a presigned URL's signature).
 * The link itself is only ever used to download; everything that is shown or kept (log lines, errors, results,
 * S3 metadata) gets this form instead: credentials and every query value become `***`, and the fragment goes.
 * Query keys stay, so a person can still tell two links apart and see that a token was there.
 */
const MASK = "***";

export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "(not a valid URL)";
  }
  if (parsed.username !== "" || parsed.password !== "") parsed.username = MASK;
  parsed.password = "";
  parsed.hash = "";
  for (const key of new Set(parsed.searchParams.keys())) parsed.searchParams.set(key, MASK);
  return parsed.href;
}

/** A string that is a URL and nothing else (a message that merely starts with one is left alone). */
const LINK = /^[a-z][a-z0-9+.-]*:\/\/\S+$/i;

/** A copy of a JSON-like value with every string that is a URL redacted, for logging events and results. */
export function redactUrls(value: unknown): unknown {
  if (typeof value === "string") return LINK.test(value) ? redactUrl(value) : value;
  if (Array.isArray(value)) return value.map(redactUrls);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, redactUrls(inner)]));
  }
  return value;
}
