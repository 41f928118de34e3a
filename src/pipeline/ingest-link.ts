import { randomBytes } from "node:crypto";
import { asDownloadFailure, type Downloader } from "../adapters/http-download.js";
import type { Links } from "../adapters/links.js";
import type { ObjectStore, PendingUpload } from "../adapters/object-store.js";
import { redactUrl } from "../adapters/redact.js";
import { cleanCsv } from "../domain/clean-csv.js";
import type { SourceDelimiter } from "../domain/csv-reader.js";
import type { SourceEncoding } from "../domain/encoding.js";
import { RoadtollError } from "../errors.js";
import { cleanKey, rawKey, runIdFor, sourceFromUrl } from "./keys.js";

export type LinkRef = { url: string; source?: string | undefined } | { source: string; url?: undefined };

export interface IngestDeps {
  store: ObjectStore;
  download: Downloader;
  links: Links;
  now?: () => Date;
}

/** What the deaths step needs: where the clean object is and what it holds. Never the data itself. */
export interface IngestResult {
  bucket: string;
  key: string;
  rawKey: string;
  source: string;
  /** The link as shown: no user, password or query values (adapters/redact.ts). */
  url: string;
  runId: string;
  /** Size and SHA-256 of the file as downloaded. */
  bytes: number;
  sha256: string;
  cleanBytes: number;
  rows: number;
  encoding: SourceEncoding;
  /** The source's delimiter, so the deaths step can show a rejected row as the source had it. */
  delimiter: SourceDelimiter;
  ingestedAt: string;
  /** Whatever the caller gave to tell its runs apart (the state machine: its execution), passed through as is. */
  execution?: string;
}

export interface IngestOptions {
  /** Copied into the result untouched; the pipeline does not read it. */
  execution?: string | undefined;
}

export function resolveLink(ref: LinkRef, links: Links): { source: string; url: string } {
  if (ref.url !== undefined) {
    const named = Object.entries(links).find(([, url]) => url === ref.url)?.[0];
    return { url: ref.url, source: ref.source ?? named ?? sourceFromUrl(ref.url) };
  }
  const url = links[ref.source];
  if (!url) {
    throw new RoadtollError(
      "UnknownSourceError",
      `no link named "${ref.source}" (known: ${Object.keys(links).join(", ") || "none"})`,
      { where: { file: "link.yml", column: ref.source } },
    );
  }
  return { source: ref.source, url };
}

/**
 * Downloads one link and writes both the raw bytes and the clean file to S3 in a single streaming pass. If any
 * part fails (download, decoding, header, either upload) both uploads are aborted, so no object of a failed run
 * is left behind and the error names the file and line.
 */
export async function ingestLink(
  ref: LinkRef,
  deps: IngestDeps,
  options: IngestOptions = {},
): Promise<IngestResult> {
  const { source, url } = resolveLink(ref, deps.links);
  const ingestedAt = (deps.now ?? (() => new Date()))();
  const runId = runIdFor(ingestedAt, randomBytes(3).toString("hex"));
  const keys = { raw: rawKey(source, runId), clean: cleanKey(source, runId) };
  const metadata = {
    source,
    // S3 metadata must be ASCII: URL.href percent-encodes, and redaction keeps credentials and tokens out.
    "source-url": redactUrl(url),
    "ingested-at": ingestedAt.toISOString(),
  };

  const download = await deps.download(url);
  const uploads: PendingUpload[] = [];
  try {
    const raw = deps.store.openUpload(keys.raw, "text/csv", metadata);
    uploads.push(raw);
    const clean = deps.store.openUpload(keys.clean, "text/csv; charset=utf-8", metadata);
    uploads.push(clean);
    const [stats] = await Promise.all([
      cleanCsv({ input: download.body, file: fileName(url), raw: raw.body, output: clean.body }),
      raw.done,
      clean.done,
    ]);
    return {
      bucket: deps.store.bucket,
      key: keys.clean,
      rawKey: keys.raw,
      source,
      url: redactUrl(url),
      runId,
      bytes: stats.bytes,
      sha256: stats.sha256,
      cleanBytes: stats.cleanBytes,
      rows: stats.rows,
      encoding: stats.encoding,
      delimiter: stats.delimiter,
      ingestedAt: ingestedAt.toISOString(),
      ...(options.execution === undefined ? {} : { execution: options.execution }),
    };
  } catch (error) {
    download.body.destroy();
    await Promise.all(uploads.map((upload) => upload.abort()));
    throw asDownloadFailure(error, url);
  }
}

function fileName(url: string): string {
  return new URL(url).pathname.split("/").filter(Boolean).at(-1) ?? url;
}
