/**
 * Links may carry secrets: `user:password@`, or a token in the query (`?token=…`, a presigned URL's signature).
 * The link itself is only ever used to download; everything that is shown or kept (log lines, errors, results,
 * S3 metadata) gets this form instead: credentials, every query value and every path parameter's value
 * (`/a.csv;jsessionid=…`, as servlet containers put a session there) become `***`, and the fragment goes. Keys
 * stay, so a person can still tell two links apart and see that a token was there.
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
  if (parsed.pathname.includes(";"))
    parsed.pathname = parsed.pathname.split("/").map(maskParameters).join("/");
  return parsed.href;
}

/** A path segment with its parameters' values masked: `a.csv;jsessionid=abc;v` → `a.csv;jsessionid=***;***`. */
function maskParameters(segment: string): string {
  const [name = "", ...parameters] = segment.split(";");
  const masked = parameters.map((parameter) => {
    const equals = parameter.indexOf("=");
    return equals < 0 ? MASK : `${parameter.slice(0, equals + 1)}${MASK}`;
  });
  return [name, ...masked].join(";");
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

/** A URL inside text: a scheme, `://`, then everything up to whitespace or a quote. */
const LINK_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
/** Punctuation that ends a sentence rather than a link: `…/a.csv: server answered`, `(see https://h/x).` */
const TRAILING_PUNCTUATION = /[.,;:!?)\]}]+$/;

/**
 * Text with every URL in it redacted, wherever it stands: the last line of defence for log lines, whose
 * messages may come from a library that quotes a link (or a `postgres://user:password@…` connection string).
 * Punctuation right after a link stays outside it, so `https://h/a.csv?sig=x: failed` reads
 * `https://h/a.csv?sig=***: failed`.
 */
export function redactUrlsInText(text: string): string {
  return text.replace(LINK_IN_TEXT, (match) => {
    const trailing = TRAILING_PUNCTUATION.exec(match)?.[0] ?? "";
    const link = match.slice(0, match.length - trailing.length);
    // A link the parser rejects might still hold a credential: redactUrl shows none of it then.
    return `${redactUrl(link)}${trailing}`;
  });
}
