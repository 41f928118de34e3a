/**
 * Object keys. Every run of a link gets a `runId` from the moment it was ingested; the three objects of one run
 * share it, so they sort by time and list together:
 *
 *   raw/<source>/<runId>.csv      the bytes exactly as downloaded
 *   clean/<source>/<runId>.csv    UTF-8 RFC 4180 CSV, normalised header, + source_line and road_name
 *   rejects/<source>/<runId>.csv  rows the deaths step could not count: line, column, reason, row
 */
export function runIdFor(ingestedAt: Date, nonce: string): string {
  return `${ingestedAt.toISOString().replace(/[-:]/g, "").replace(".", "")}-${nonce}`;
}

export const rawKey = (source: string, runId: string): string => `raw/${source}/${runId}.csv`;
export const cleanKey = (source: string, runId: string): string => `clean/${source}/${runId}.csv`;
export const rejectsKey = (source: string, runId: string): string => `rejects/${source}/${runId}.csv`;

/** A source name usable in a key and a table: from link.yml, or the URL's file name without extension. */
export function sourceFromUrl(url: string): string {
  const encoded = new URL(url).pathname.split("/").filter(Boolean).at(-1) ?? "download";
  let file = encoded;
  try {
    file = decodeURIComponent(encoded);
  } catch {
    // A malformed escape: sanitise the encoded form instead.
  }
  // At most 100 characters: the limit the deaths step's event schema puts on a source name.
  return (
    file
      .replace(/\.[A-Za-z0-9]+$/, "")
      .replace(/[^A-Za-z0-9_-]+/g, "_")
      .slice(0, 100) || "download"
  );
}
