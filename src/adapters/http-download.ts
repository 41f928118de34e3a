import { pipeline, type Readable, Transform } from "node:stream";
import { Agent, type Dispatcher, interceptors, request } from "undici";
import type { DownloadConfig } from "../config.js";
import { RoadtollError } from "../errors.js";
import { redactUrl } from "./redact.js";

export interface Download {
  body: Readable;
  contentLength: number | undefined;
}

export type Downloader = (url: string) => Promise<Download>;

/**
 * Streams a URL with undici. Timeouts cover connecting, waiting for headers and every pause in the body, so a
 * stalled server fails the step instead of hanging it until the Lambda timeout. 5xx, 408, 429 and network
 * failures are `DownloadUnavailableError` (the state machine retries them); other statuses and too many
 * redirects are `DownloadError` (retrying would not help).
 */
export function createDownloader(config: DownloadConfig): Downloader {
  const dispatcher: Dispatcher = new Agent({
    connect: { timeout: config.timeoutMs },
    headersTimeout: config.timeoutMs,
    bodyTimeout: config.timeoutMs,
  }).compose(interceptors.redirect({ maxRedirections: config.maxRedirects, throwOnMaxRedirect: true }));

  return async (url) => {
    // Errors name the link as shown, never with its credentials or query values.
    const shown = redactUrl(url);
    const parsed = new URL(url);
    if (parsed.username !== "" || parsed.password !== "") {
      throw new RoadtollError(
        "DownloadForbiddenError",
        "links with a user or password are refused: the credentials would travel in every log and result",
        { where: { file: shown } },
      );
    }
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, {
        dispatcher,
        method: "GET",
        headers: { "user-agent": "roadtoll/0.1 (ANTT accident data pipeline)", accept: "text/csv,*/*" },
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/redirect/i.test(message)) {
        throw new RoadtollError("DownloadError", `more than ${config.maxRedirects} redirects: ${message}`, {
          cause: error,
          where: { file: shown },
        });
      }
      throw new RoadtollError("DownloadUnavailableError", `cannot reach the server: ${message}`, {
        cause: error,
        where: { file: shown },
      });
    }
    const { statusCode } = response;
    if (statusCode < 200 || statusCode >= 300) {
      response.body.resume();
      const transient = statusCode >= 500 || statusCode === 408 || statusCode === 429;
      throw new RoadtollError(
        transient ? "DownloadUnavailableError" : "DownloadError",
        `server answered HTTP ${statusCode}`,
        { where: { file: shown } },
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
    return { body: limited(response.body, shown, config.maxBytes), contentLength };
  };
}

/**
 * The body, cut with DownloadTooLargeError once more than `maxBytes` have arrived: counted on the bytes
 * themselves, since a chunked body has no length and a Content-Length is only the server's word.
 */
function limited(body: Readable, shown: string, maxBytes: number): Readable {
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

function tooLarge(shown: string, maxBytes: number, detail: string): RoadtollError {
  return new RoadtollError(
    "DownloadTooLargeError",
    `the download is limited to ${maxBytes.toLocaleString("en")} bytes (DOWNLOAD_MAX_BYTES, --max-download-bytes) ` +
      `and ${detail}; nothing was stored`,
    { where: { file: shown } },
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
      where: { file: shown },
    });
  }
  return error;
}
