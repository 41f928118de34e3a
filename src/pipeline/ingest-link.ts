import { createHash, randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { decompressed } from "../adapters/decompress.js";
import { asDownloadFailure, type Downloader, limited } from "../adapters/http-download.js";
import type { Links, LinksProvider } from "../adapters/links.js";
import type { ObjectStore, PendingUpload } from "../adapters/object-store.js";
import { redactUrl } from "../adapters/redact.js";
import type { IngestResult } from "../contracts/events.js";
import { DEFAULT_DOWNLOAD_MAX_BYTES } from "../defaults.js";
import { cleanCsv } from "../domain/clean-csv.js";
import { RoadtollError } from "../errors.js";
import {
  cleanKey,
  executionName,
  LANDING_FILE,
  LANDING_PREFIX,
  rawKey,
  runIdFor,
  sourceFromKey,
  sourceFromUrl,
  urlFileName,
} from "./keys.js";
import { recordRunStart } from "./run-index.js";
import type { LastRunLookup, SourceState } from "./source-state.js";

export type LinkRef =
  | { url: string; source?: string | undefined; object?: undefined }
  | { source: string; url?: undefined; object?: undefined };

/** An object put into the pipeline's bucket under landing/ (the S3 event rule's input), optionally named. */
export interface ObjectRef {
  object: { bucket: string; key: string };
  source?: string | undefined;
  url?: undefined;
}

export type IngestRef = LinkRef | ObjectRef;

export interface IngestDeps {
  store: ObjectStore;
  download: Downloader;
  /** link.yml's links, or what reads them: read only for a link given by name or URL, never for an object. */
  links: Links | LinksProvider;
  now?: () => Date;
  /** Largest landing object accepted, counted on its decoded bytes as for a download (default 1 GiB). */
  maxObjectBytes?: number;
  /**
   * Change detection: the last successful run of a source (source-state.ts). With it, a source that has not
   * changed since (the server answers 304, or the file has the same SHA-256) ends as `unchanged`, writing
   * nothing. Without it every run ingests.
   */
  lastRun?: LastRunLookup;
}

/** A source found unchanged since its last successful run: nothing was written, the deaths step is skipped. */
export interface UnchangedResult {
  status: "unchanged";
  source: string;
  url: string;
  /** The last run's ingestedAt: the figures in deaths_by_vehicle are from then, and still right. */
  since: string;
  /** The run whose figures stand. */
  runId: string;
  sha256: string;
  /** How it was told: the source answered 304 Not Modified, or sent the very same bytes. */
  reason: "not-modified" | "same-sha256";
  execution?: string;
}

export type IngestOutcome = IngestResult | UnchangedResult;

export interface IngestOptions {
  /** The Step Functions execution (its ARN): copied into the result, and named in the run index. */
  execution?: string | undefined;
  /** When that execution started: with `execution`, the run is recorded in the run index (run-index.ts). */
  started?: string | undefined;
}

/** Records the run under its source before any byte is read, so a run that fails still lists under the source. */
async function indexRun(deps: IngestDeps, source: string, origin: string, options: IngestOptions) {
  if (options.execution === undefined || options.started === undefined) return;
  await recordRunStart(deps.store, {
    id: executionName(options.execution),
    source,
    startedAt: options.started,
    origin,
  });
}

export function resolveLink(ref: LinkRef, links: Links): { source: string; url: string } {
  if (ref.url !== undefined) {
    if (ref.source !== undefined) return { url: ref.url, source: ref.source };
    // The same link spelt another way (a host's case, a default port, an escape) is still link.yml's.
    const named = namesByUrl(links).get(normalUrl(ref.url));
    return { url: ref.url, source: named ?? sourceFromUrl(ref.url) };
  }
  const url = Object.hasOwn(links, ref.source) ? links[ref.source] : undefined;
  if (!url) {
    const known = Object.keys(links);
    throw new RoadtollError(
      "UnknownSourceError",
      `no link named "${ref.source}" (known: ${known.slice(0, 20).join(", ") || "none"}${known.length > 20 ? `, and ${known.length - 20} more` : ""})`,
      { where: { resource: "link.yml" } },
    );
  }
  return { source: ref.source, url };
}

const urlIndexes = new WeakMap<Links, Map<string, string>>();

/** Each link.yml URL's name (the first, for a URL given twice), built once per Links: one lookup per link. */
function namesByUrl(links: Links): Map<string, string> {
  let index = urlIndexes.get(links);
  if (!index) {
    index = new Map();
    for (const [name, url] of Object.entries(links)) {
      const normal = normalUrl(url);
      if (!index.has(normal)) index.set(normal, name);
    }
    urlIndexes.set(links, index);
  }
  return index;
}

/** A URL as WHATWG URL parsing writes it (host lower-cased, default port dropped, escapes normalised). */
function normalUrl(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
}

/**
 * Downloads one link (or reads one landing object) and writes both the raw bytes and the clean file to S3 in a
 * single streaming pass. If any part fails (download, decoding, header, either upload) both uploads are aborted,
 * so no object of a failed run is left behind and the error names the file and line.
 */
export async function ingestLink(
  ref: IngestRef,
  deps: IngestDeps,
  options: IngestOptions = {},
): Promise<IngestOutcome> {
  if (ref.object !== undefined) return ingestObject(ref, deps, options);
  const { source, url } = resolveLink(
    ref,
    typeof deps.links === "function" ? await deps.links() : deps.links,
  );
  const shown = redactUrl(url);
  await indexRun(deps, source, shown, options);
  const last = await deps.lastRun?.(source);
  const ingestedAt = (deps.now ?? (() => new Date()))();
  const runId = runIdFor(ingestedAt, randomBytes(3).toString("hex"));
  // Validators from the same link only: another URL's ETag says nothing about this one.
  const conditions =
    last && last.origin === shown ? { etag: last.etag, lastModified: last.lastModified } : undefined;
  const download = await deps.download(url, conditions);
  if (download.notModified && last) return unchanged(last, shown, "not-modified", options);
  return storeCopies(
    {
      body: download.body,
      file: fileName(url),
      source,
      runId,
      ingestedAt,
      shown,
      etag: download.etag,
      lastModified: download.lastModified,
      last,
    },
    deps,
    options,
    (error) => asDownloadFailure(error, url),
  );
}

function unchanged(
  last: SourceState,
  shown: string,
  reason: UnchangedResult["reason"],
  options: IngestOptions,
): UnchangedResult {
  return {
    status: "unchanged",
    source: last.source,
    url: shown,
    since: last.ingestedAt,
    runId: last.runId,
    sha256: last.sha256,
    reason,
    ...(options.execution === undefined ? {} : { execution: options.execution }),
  };
}

/**
 * Reads an object from the bucket's landing/ (left as it is) into the same raw/ and clean/ keys as a download.
 * Only the pipeline's own bucket, only under landing/, only .csv or .csv.gz: an event must not make this step read
 * (and copy to clean/, where the deaths step and people read) anything else, such as another bucket the role can
 * reach or the pipeline's own raw/, clean/ or state objects. The run is named after the object's version: its
 * runId comes from bucket, key and ETag, its ingestedAt is the object's LastModified. The same object delivered
 * twice (S3 events are at least once) therefore writes the same keys, and the deaths step replaces the same
 * snapshot and pipeline_runs row instead of adding a second.
 */
export async function ingestObject(
  ref: ObjectRef,
  deps: IngestDeps,
  options: IngestOptions = {},
): Promise<IngestOutcome> {
  const { bucket } = ref.object;
  checkLandingObject(bucket, ref.object.key, deps.store.bucket);
  const key = await landingKey(deps.store, ref.object.key);
  if (key !== ref.object.key) checkLandingObject(bucket, key, deps.store.bucket);
  const origin = `s3://${bucket}/${key}`;
  const source = ref.source ?? sourceFromKey(key);
  await indexRun(deps, source, origin, options);
  const last = await deps.lastRun?.(source);
  // An ETag names one version of one object's bytes: the same ETag at the same key is the same file.
  const object = await deps.store.readObject(key, {
    ifNoneMatch: last?.origin === origin ? last.etag : undefined,
  });
  if (object.notModified && last) return unchanged(last, origin, "not-modified", options);
  const ingestedAt = object.lastModified ?? (deps.now ?? (() => new Date()))();
  const version = createHash("sha256").update(`${bucket}\n${key}\n${object.etag}`).digest("hex");
  const runId = runIdFor(ingestedAt, version.slice(0, 6));
  let body: Readable;
  try {
    body = limited(
      decompressed(object.body, undefined, origin),
      origin,
      deps.maxObjectBytes ?? DEFAULT_DOWNLOAD_MAX_BYTES,
    );
  } catch (error) {
    object.body.destroy();
    throw error;
  }
  return storeCopies(
    {
      body,
      file: key.split("/").at(-1) ?? key,
      source,
      runId,
      ingestedAt,
      shown: origin,
      shownAscii: encodeURI(origin),
      etag: object.etag || undefined,
      last,
    },
    deps,
    options,
    (error) => error,
  );
}

/**
 * The key as stored. S3's event notifications URL-encode object keys ("VIA SUL.csv" arrives as "VIA+SUL.csv"), and
 * whether the EventBridge form does is not stated; so a key that has an encoded form is taken as given when an
 * object is there, else decoded (form encoding: "+" is a space). Keys without "%" or "+" cost no request.
 */
async function landingKey(store: ObjectStore, key: string): Promise<string> {
  if (!/[%+]/.test(key)) return key;
  let decoded: string;
  try {
    decoded = decodeURIComponent(key.replaceAll("+", " "));
  } catch {
    return key;
  }
  if (decoded === key || (await store.exists(key))) return key;
  return decoded;
}

function checkLandingObject(bucket: string, key: string, ownBucket: string): void {
  const refuse = (why: string) =>
    new RoadtollError("ObjectForbiddenError", `s3://${bucket}/${key} cannot be ingested: ${why}`);
  if (bucket !== ownBucket) throw refuse(`only objects of the pipeline's bucket (${ownBucket}) are read`);
  if (!key.startsWith(LANDING_PREFIX)) throw refuse(`only objects under ${LANDING_PREFIX} are read`);
  const segments = key.slice(LANDING_PREFIX.length).split("/");
  // S3 keys are opaque, but a "." or ".." segment would be resolved by some servers and HTTP stacks.
  if (segments.some((segment) => segment === "" || segment === "." || segment === "..")) {
    throw refuse('a key with an empty, "." or ".." segment is not read');
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused here.
  if (/[\u0000-\u001f\u007f]/.test(key)) throw refuse("a key with control characters is not read");
  if (!LANDING_FILE.test(key)) throw refuse("only .csv and .csv.gz files are read");
}

interface SourceFile {
  body: Readable;
  /** The file name, for error messages. */
  file: string;
  source: string;
  runId: string;
  ingestedAt: Date;
  /** Where it came from, safe to show and store: the redacted link or `s3://bucket/key`. */
  shown: string;
  /** `shown` in ASCII (S3 metadata), when it may not be. */
  shownAscii?: string;
  etag?: string | undefined;
  lastModified?: string | undefined;
  /** The source's last successful run: a file with its SHA-256 is unchanged, and nothing is written. */
  last?: SourceState | undefined;
}

/** Raised at the end of the input when its SHA-256 is the last run's: fails the uploads so none completes. */
class SameContent extends Error {}

async function storeCopies(
  input: SourceFile,
  deps: IngestDeps,
  options: IngestOptions,
  failure: (error: unknown) => unknown,
): Promise<IngestOutcome> {
  const { source, runId, ingestedAt, last } = input;
  let same = false;
  // The source's SHA-256, taken as it is cleaned, checked at its end: when it is the last run's, the cleaning
  // fails there instead of ending, so neither upload completes (one already started is aborted), and the link
  // is reported unchanged.
  const onDigest = last
    ? (sha256: string) => {
        if (sha256 !== last.sha256) return;
        same = true;
        throw new SameContent("the file has the last run's SHA-256");
      }
    : undefined;
  const keys = { raw: rawKey(source, runId), clean: cleanKey(source, runId) };
  const metadata = {
    source,
    // S3 metadata must be ASCII: URL.href percent-encodes, and redaction keeps credentials and tokens out.
    "source-url": input.shownAscii ?? input.shown,
    "ingested-at": ingestedAt.toISOString(),
  };
  const uploads: PendingUpload[] = [];
  try {
    const raw = deps.store.openUpload(keys.raw, "text/csv", metadata);
    uploads.push(raw);
    const clean = deps.store.openUpload(keys.clean, "text/csv; charset=utf-8", metadata);
    uploads.push(clean);
    const [stats] = await Promise.all([
      cleanCsv({
        input: input.body,
        file: input.file,
        raw: raw.body,
        output: clean.body,
        ...(onDigest ? { onDigest } : {}),
      }),
      raw.done,
      clean.done,
    ]);
    return {
      bucket: deps.store.bucket,
      key: keys.clean,
      rawKey: keys.raw,
      source,
      url: input.shown,
      runId,
      bytes: stats.bytes,
      sha256: stats.sha256,
      cleanBytes: stats.cleanBytes,
      rows: stats.rows,
      encoding: stats.encoding,
      delimiter: stats.delimiter,
      ingestedAt: ingestedAt.toISOString(),
      ...(input.etag === undefined ? {} : { etag: input.etag }),
      ...(input.lastModified === undefined ? {} : { lastModified: input.lastModified }),
      ...(options.execution === undefined ? {} : { execution: options.execution }),
      status: "ingested",
    };
  } catch (error) {
    input.body.destroy();
    await Promise.all(uploads.map((upload) => upload.abort()));
    if (same && last) return unchanged(last, input.shown, "same-sha256", options);
    throw failure(error);
  }
}

function fileName(url: string): string {
  return urlFileName(url) ?? redactUrl(url);
}
