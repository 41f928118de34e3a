import { Readable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { RoadtollError } from "../errors.js";

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  "x-gzip": createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/**
 * The body as the file it stands for: decoded per its Content-Encoding (gzip, deflate, br), and gunzipped when
 * the body itself is a gzip file (a `.csv.gz` link, recognised by its magic bytes rather than its name). Streams
 * throughout and pulls only as fast as the consumer reads, so a decompression bomb is held by the download
 * limit applied after it (http-download.ts), not by memory. A corrupt stream fails as a DownloadError.
 */
export function decompressed(body: Readable, contentEncoding: string | undefined, shown: string): Readable {
  const coding = (contentEncoding ?? "").trim().toLowerCase();
  if (coding !== "" && coding !== "identity") {
    const decoder = DECODERS[coding];
    if (!decoder) {
      body.on("error", () => {});
      body.destroy();
      throw new RoadtollError(
        "DownloadError",
        `the server sent Content-Encoding "${coding}", which is not supported`,
        {
          where: { resource: shown },
        },
      );
    }
    return Readable.from(through(body, decoder(), shown), { objectMode: false });
  }
  return Readable.from(sniffGzip(body, shown), { objectMode: false });
}

async function* through(
  source: AsyncIterable<Buffer> & { destroy?: () => void },
  decoder: Transform,
  shown: string,
) {
  const feeding = pipeline(source, decoder).catch((error: unknown) => {
    decoder.destroy(error as Error);
  });
  try {
    for await (const chunk of decoder) yield chunk as Buffer;
  } catch (error) {
    throw corrupt(error, shown);
  } finally {
    source.destroy?.();
    await feeding;
  }
}

async function* sniffGzip(source: Readable, shown: string): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head: Buffer = Buffer.alloc(0);
  try {
    while (head.length < 2) {
      const step = await iterator.next();
      if (step.done) break;
      head = head.length === 0 ? step.value : Buffer.concat([head, step.value]);
    }
    const rest = Readable.from(
      (async function* () {
        if (head.length > 0) yield head;
        for (;;) {
          const step = await iterator.next();
          if (step.done) return;
          yield step.value;
        }
      })(),
      { objectMode: false },
    );
    if (head[0] === 0x1f && head[1] === 0x8b) yield* through(rest, createGunzip(), shown);
    else yield* rest;
  } finally {
    source.destroy();
  }
}

function corrupt(error: unknown, shown: string): unknown {
  if (error instanceof RoadtollError || !(error instanceof Error)) return error;
  if (!String((error as { code?: unknown }).code ?? "").startsWith("Z_")) return error;
  return new RoadtollError("DownloadError", `the compressed body cannot be decoded: ${error.message}`, {
    cause: error,
    where: { resource: shown },
  });
}
