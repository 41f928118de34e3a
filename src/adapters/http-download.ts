import { pipeline, Readable, Transform } from "node:stream";
import { Agent, type Dispatcher, request } from "undici";
import { RoadtollError } from "../errors.js";
import { decompressed } from "./decompress.js";
import type { AddressPolicy } from "./link-safety.js";
import { checkLink, guardedLookup, type LinkPolicy, type Resolver, systemResolver } from "./link-safety.js";
import { redactUrl } from "./redact.js";

/**
 * Ten minutes: an ANTT file (about 100 MB) at 1 MB/s takes under two, and the ingest function (840 s) keeps time
 * to write what it read and to say why it stopped.
 */
export const DEFAULT_DOWNLOAD_DEADLINE_MS = 600_000;

export interface DownloadConfig {
  /** Applies to connecting, to waiting for headers, and to every gap between body chunks. */
  timeoutMs: number;
  /** The whole download, from its first request to its last byte: a server trickling bytes cannot hold a run. */
  deadlineMs: number;
  maxRedirects: number;
  /** Bytes a download may deliver, counted as they arrive (Content-Length may lie or be absent). */
  maxBytes: number;
  /**
   * How long, in all, a download waits for a server that answered 429 or 503 with a Retry-After; a longer ask
   * fails the step with DownloadUnavailableError, and the state machine's own retry takes over.
   */
  maxRetryAfterMs: number;
  /** Which addresses a download may reach (adapters/link-safety.ts): public only, unless told otherwise. */
  addressPolicy: AddressPolicy;
  /** Host names links may name; empty allows any host whose addresses pass. */
  allowedHosts: string[];
  /** Path of link.yml: the image ships it next to the bundle; locally it is the repository's. */
  linksFile: string;
  /** In AWS, this object in the pipeline's bucket, when present, replaces linksFile: no rebuild to add a source. */
  linksKey: string;
}

export interface Download {
  body: Readable;
  contentLength: number | undefined;
  /** The response's validators, for the next run's conditional request. */
  etag?: string | undefined;
  lastModified?: string | undefined;
  /** The server answered 304 to the conditions given: `body` is empty. */
  notModified?: boolean;
}

/** What the last run saw (its ETag and Last-Modified): sent as If-None-Match and If-Modified-Since. */
export interface DownloadConditions {
  etag?: string | undefined;
  lastModified?: string | undefined;
}

export type Downloader = (url: string, conditions?: DownloadConditions) => Promise<Download>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Retry-After answers a download waits for, at most, before it fails and leaves retrying to the state machine. */
const MAX_WAITS = 5;
/** DNS answers that say the name does not exist: retrying will not create it. */
const NO_SUCH_HOST = new Set(["ENOTFOUND", "EAI_NONAME", "EAI_NODATA"]);

export interface DownloaderOptions {
  /** The DNS seam (link-safety.ts); the system resolver unless a test or a check replaces it. */
  resolve?: Resolver;
}

/**
 * Streams a URL with undici. Every hop is checked before it is requested (checkLink: scheme, credentials,
 * allow-list, literal addresses) and when it connects (guardedLookup: the resolved addresses, once, and the
 * socket connects to those very addresses). Redirects are followed here rather than by undici, so each target is
 * checked the same way. Timeouts cover connecting, waiting for headers and every pause in the body, so a stalled
 * server fails the step instead of hanging it. 5xx, 408, 429 and network failures are
 * `DownloadUnavailableError` (the state machine retries them); other statuses, too many redirects and unknown
 * hosts are `DownloadError`; a refused link or address is `DownloadForbiddenError`; neither is retried.
 */
export function createDownloader(config: DownloadConfig, options: DownloaderOptions = {}): Downloader {
  const policy: LinkPolicy = { addresses: config.addressPolicy, allowedHosts: config.allowedHosts };
  const dispatcher: Dispatcher = new Agent({
    connect: {
      timeout: config.timeoutMs,
      lookup: guardedLookup(config.addressPolicy, options.resolve ?? systemResolver),
    },
    headersTimeout: config.timeoutMs,
    bodyTimeout: config.timeoutMs,
  });

  return async (url, conditions) => {
    // Errors name the link as shown, never with its credentials or query values.
    const shown = redactUrl(url);
    let current = checkLink(url, policy).href;
    // One deadline for the whole download: the per-pause timeouts never end a body that trickles a byte at a time.
    const late = () =>
      new RoadtollError(
        "DownloadError",
        `the download took longer than ${Math.round(config.deadlineMs / 1000)} s (DOWNLOAD_DEADLINE_MS)`,
        { where: { resource: shown } },
      );
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(late()), config.deadlineMs);
    timer.unref();
    let response: Dispatcher.ResponseData;
    let waitedMs = 0;
    let waits = 0;
    for (let hop = 0; ; ) {
      try {
        response = await request(current, {
          dispatcher,
          signal: deadline.signal,
          method: "GET",
          headers: {
            "user-agent": "roadtoll/0.1 (ANTT accident data pipeline)",
            accept: "text/csv,*/*",
            // decompress.ts decodes these; a compressed CSV is a fraction of the bytes on the wire.
            "accept-encoding": "gzip, deflate, br",
            ...(conditions?.etag ? { "if-none-match": conditions.etag } : {}),
            ...(conditions?.lastModified ? { "if-modified-since": conditions.lastModified } : {}),
          },
        });
      } catch (error) {
        clearTimeout(timer);
        if (deadline.signal.aborted) throw deadline.signal.reason;
        throw requestFailure(error, hop === 0 ? shown : `${shown} (redirected to ${redactUrl(current)})`);
      }
      const waitMs = retryAfterMs(response);
      // Bounded in count too: a server answering `Retry-After: 0` forever must not keep the step busy.
      if (waitMs !== undefined && waits < MAX_WAITS && waitedMs + waitMs <= config.maxRetryAfterMs) {
        waits++;
        // The server said when to come back, and it is soon: wait here rather than fail and retry the step.
        response.body.on("error", () => {});
        response.body.destroy();
        waitedMs += waitMs;
        await sleep(waitMs);
        continue;
      }
      const location = response.headers.location;
      if (!REDIRECTS.has(response.statusCode) || typeof location !== "string") break;
      response.body.on("error", () => {});
      response.body.destroy();
      hop++;
      if (hop > config.maxRedirects) {
        throw new RoadtollError(
          "DownloadError",
          `more than ${config.maxRedirects} redirects (DOWNLOAD_MAX_REDIRECTS); the last pointed to ${redactUrl(location)}`,
          { where: { resource: shown } },
        );
      }
      let next: string;
      try {
        next = new URL(location, current).href;
      } catch {
        throw new RoadtollError("DownloadForbiddenError", "a redirect points to an invalid URL", {
          where: { resource: shown },
        });
      }
      try {
        current = checkLink(next, policy).href;
      } catch (error) {
        const reason = error instanceof Error ? error.message.replace(/^.*?: /, "") : String(error);
        throw new RoadtollError("DownloadForbiddenError", `redirected to ${redactUrl(next)}: ${reason}`, {
          where: { resource: shown },
        });
      }
    }
    const { statusCode } = response;
    if (statusCode < 200 || statusCode >= 300) clearTimeout(timer);
    if (statusCode === 304 && (conditions?.etag || conditions?.lastModified)) {
      response.body.resume();
      return { body: Readable.from([]), contentLength: 0, notModified: true };
    }
    if (statusCode < 200 || statusCode >= 300) {
      response.body.resume();
      const transient = statusCode >= 500 || statusCode === 408 || statusCode === 429;
      const later = retryAfterMs(response);
      const advice =
        later === undefined
          ? ""
          : waits >= MAX_WAITS
            ? `; it still asks to retry later after ${waits} waits, so the state machine's retry takes over`
            : `; it asks to retry after ${Math.ceil(later / 1000)} s, beyond the ${Math.round(config.maxRetryAfterMs / 1000)} s ` +
              "a download waits within the step (DOWNLOAD_RETRY_AFTER_MAX_MS), so the state machine's retry takes over";
      throw new RoadtollError(
        transient ? "DownloadUnavailableError" : "DownloadError",
        `server answered HTTP ${statusCode}${waitedMs > 0 ? ` after ${Math.round(waitedMs / 1000)} s of waiting` : ""}${advice}`,
        { where: { resource: shown } },
      );
    }
    const length = Number(response.headers["content-length"]);
    const contentLength = Number.isFinite(length) ? length : undefined;
    if (contentLength !== undefined && contentLength > config.maxBytes) {
      // Destroying an undici body emits its AbortError: nobody else listens any more, so take it here.
      response.body.on("error", () => {});
      response.body.destroy();
      throw tooLarge(
        shown,
        config.maxBytes,
        `the server announces ${contentLength.toLocaleString("en")} bytes`,
      );
    }
    const encoding = response.headers["content-encoding"];
    const body = decompressed(response.body, typeof encoding === "string" ? encoding : undefined, shown);
    // The limit counts the decoded bytes: what is stored, and what a decompression bomb would inflate.
    const validator = (name: string) => {
      const value = response.headers[name];
      return typeof value === "string" && value.length <= 1024 ? value : undefined;
    };
    const limitedBody = limited(body, shown, config.maxBytes);
    deadline.signal.addEventListener("abort", () => limitedBody.destroy(deadline.signal.reason as Error), {
      once: true,
    });
    limitedBody.once("close", () => clearTimeout(timer));
    return {
      body: limitedBody,
      contentLength,
      etag: validator("etag"),
      lastModified: validator("last-modified"),
    };
  };
}

/**
 * The body, cut with DownloadTooLargeError once more than `maxBytes` have arrived: counted on the bytes
 * themselves, since a chunked body has no length and a Content-Length is only the server's word.
 */
export function limited(body: Readable, shown: string, maxBytes: number): Readable {
  let received = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > maxBytes) {
        callback(tooLarge(shown, maxBytes, "more than that arrived"));
        return;
      }
      callback(null, chunk);
    },
  });
  // Errors and early ends travel both ways: a failing body fails the limiter, a destroyed limiter stops the body.
  pipeline(body, limiter, () => {});
  return limiter;
}

/** Retry-After on a 429 or 503, in milliseconds (delta-seconds or an HTTP date); undefined otherwise. */
function retryAfterMs(response: Dispatcher.ResponseData): number | undefined {
  if (response.statusCode !== 429 && response.statusCode !== 503) return undefined;
  const header = response.headers["retry-after"];
  if (typeof header !== "string") return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a failed request means: a refused address, a host that does not exist, or a network failure. */
function requestFailure(error: unknown, shown: string): RoadtollError {
  const refused = [error, (error as { cause?: unknown } | undefined)?.cause].find(
    (candidate) => candidate instanceof RoadtollError,
  );
  if (refused instanceof RoadtollError) {
    return new RoadtollError(refused.name, refused.message, { cause: refused, where: { resource: shown } });
  }
  const code = String(
    (error as { code?: unknown })?.code ?? (error as { cause?: { code?: unknown } })?.cause?.code,
  );
  const message = error instanceof Error ? error.message : String(error);
  if (NO_SUCH_HOST.has(code)) {
    return new RoadtollError("DownloadError", `no such host: ${message}`, {
      cause: error,
      where: { resource: shown },
    });
  }
  return new RoadtollError("DownloadUnavailableError", `cannot reach the server: ${message}`, {
    cause: error,
    where: { resource: shown },
  });
}

function tooLarge(shown: string, maxBytes: number, detail: string): RoadtollError {
  return new RoadtollError(
    "DownloadTooLargeError",
    `the download is limited to ${maxBytes.toLocaleString("en")} bytes (DOWNLOAD_MAX_BYTES, --max-download-bytes) ` +
      `and ${detail}; nothing was stored`,
    { where: { resource: shown } },
  );
}

/**
 * undici reports a stalled or cut body as its own error (`UND_ERR_*`, `ECONNRESET`) while the body is being
 * consumed downstream; this names it so the state machine can retry it. The link is named redacted.
 */
export function asDownloadFailure(error: unknown, url: string): unknown {
  const shown = redactUrl(url);
  if (error instanceof RoadtollError || !(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  if (
    typeof code === "string" &&
    (code.startsWith("UND_ERR") || code.startsWith("ECONN") || code === "EPIPE")
  ) {
    return new RoadtollError("DownloadUnavailableError", `download interrupted: ${error.message}`, {
      cause: error,
      where: { resource: shown },
    });
  }
  return error;
}
