import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { startMultipartUpload } from "./multipart-upload.js";

interface Call {
  command: string;
  input: Record<string, unknown>;
  /** A copy of the body as it was when sent. */
  body?: Buffer;
}

/**
 * A client that records each command and answers as S3 does, after a turn of the event loop; `failPart` makes
 * that UploadPart fail. Tracks how many parts are in flight at once and which memory their bodies live in.
 */
function fakeS3(options: { failPart?: number; partMs?: number } = {}) {
  const calls: Call[] = [];
  const bodyMemory = new Set<ArrayBufferLike>();
  let inFlight = 0;
  let mostInFlight = 0;
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const name = command.constructor.name.replace(/Command$/, "");
      const body = command.input.Body as Buffer | undefined;
      calls.push({ command: name, input: command.input, ...(body ? { body: Buffer.from(body) } : {}) });
      if (name !== "UploadPart") {
        await new Promise((resolve) => setImmediate(resolve));
        return name === "CreateMultipartUpload" ? { UploadId: "u-1" } : {};
      }
      if (body) bodyMemory.add(body.buffer);
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, options.partMs ?? 2));
      inFlight -= 1;
      const number = command.input.PartNumber as number;
      if (number === options.failPart)
        throw Object.assign(new Error("We encountered an internal error."), { name: "InternalError" });
      return { ETag: `"etag-${number}"`, ChecksumCRC32: `crc-${number}` };
    },
  } as unknown as S3Client;
  return { client, calls, bodyMemory, mostInFlight: () => mostInFlight };
}

const PART = 16;

function upload(client: S3Client, checksum?: "CRC32") {
  return startMultipartUpload({
    client,
    bucket: "b",
    key: "clean/x.csv",
    contentType: "text/csv",
    metadata: { source: "x" },
    partSize: PART,
    queueSize: 2,
    checksumAlgorithm: Promise.resolve(checksum),
    failure: (cause) => Object.assign(new Error(`cannot write clean/x.csv (${String(cause)})`), { cause }),
  });
}

/** Writes `bytes` in chunks of `chunk` bytes (so chunks straddle part boundaries), then ends. */
async function write(target: ReturnType<typeof upload>, bytes: Buffer, chunk = 5): Promise<void> {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunk) chunks.push(bytes.subarray(at, at + chunk));
  await pipeline(Readable.from(chunks), target.body);
  await target.done;
}

const bytes = (length: number) => Buffer.from(Array.from({ length }, (_, i) => 97 + (i % 26)));

describe("startMultipartUpload", () => {
  it("sends an object that fits one part, exactly full or empty, as one PutObject", async () => {
    for (const length of [0, 7, PART]) {
      const s3 = fakeS3();
      await write(upload(s3.client), bytes(length));
      expect(s3.calls.map((call) => call.command)).toEqual(["PutObject"]);
      expect(s3.calls[0]?.body).toEqual(bytes(length));
      expect(s3.calls[0]?.input).toMatchObject({
        Key: "clean/x.csv",
        ContentType: "text/csv",
        ContentLength: length,
      });
    }
  });

  it("splits a larger object into parts whose bytes join up to it, with each part's checksum in Complete", async () => {
    const s3 = fakeS3();
    const object = bytes(PART * 10 + 3);
    await write(upload(s3.client, "CRC32"), object);
    const commands = s3.calls.map((call) => call.command);
    expect(commands[0]).toBe("CreateMultipartUpload");
    expect(s3.calls[0]?.input).toMatchObject({ ChecksumAlgorithm: "CRC32", Metadata: { source: "x" } });
    expect(commands.at(-1)).toBe("CompleteMultipartUpload");
    const parts = s3.calls.filter((call) => call.command === "UploadPart");
    parts.sort((a, b) => (a.input.PartNumber as number) - (b.input.PartNumber as number));
    expect(parts.map((part) => part.input.PartNumber)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(parts.map((part) => part.input.ChecksumAlgorithm)).toEqual(Array(11).fill("CRC32"));
    expect(Buffer.concat(parts.map((part) => part.body ?? Buffer.alloc(0)))).toEqual(object);
    expect(s3.calls.at(-1)?.input.MultipartUpload).toEqual({
      Parts: parts.map((_, i) => ({
        PartNumber: i + 1,
        ETag: `"etag-${i + 1}"`,
        ChecksumCRC32: `crc-${i + 1}`,
      })),
    });
  });

  it("holds at most queueSize parts in flight, in queueSize + 1 buffers reused for the whole object", async () => {
    const s3 = fakeS3();
    await write(upload(s3.client), bytes(PART * 40), 3);
    expect(s3.mostInFlight()).toBe(2);
    expect(s3.bodyMemory.size).toBeLessThanOrEqual(3);
  });

  it("fails the writer and `done` with the same error when a part fails, and aborts the upload", async () => {
    const s3 = fakeS3({ failPart: 3 });
    const target = upload(s3.client);
    const written = write(target, bytes(PART * 12)).catch((error: unknown) => error);
    const failed = await written;
    expect(String(failed)).toContain(
      "cannot write clean/x.csv (InternalError: We encountered an internal error.)",
    );
    expect(await target.done.catch((error: unknown) => error)).toBe(failed);
    const commands = s3.calls.map((call) => call.command);
    expect(commands).toContain("AbortMultipartUpload");
    expect(commands).not.toContain("CompleteMultipartUpload");
  });

  it("fails past S3's 10,000 parts, naming the limit, and aborts the upload", async () => {
    const s3 = fakeS3({ partMs: 0 });
    const failed = await write(upload(s3.client), bytes(PART * 10_000 + 1), PART * 50).catch(
      (error: unknown) => error,
    );
    expect(String(failed)).toContain(`the object needs more than S3's 10000 parts of ${PART} bytes`);
    const commands = s3.calls.map((call) => call.command);
    expect(commands.filter((command) => command === "UploadPart")).toHaveLength(10_000);
    expect(commands).toContain("AbortMultipartUpload");
    expect(commands).not.toContain("CompleteMultipartUpload");
  });

  it("abort removes an upload under way and no object appears", async () => {
    const s3 = fakeS3();
    const target = upload(s3.client);
    target.body.write(bytes(PART * 3));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await target.abort();
    const commands = s3.calls.map((call) => call.command);
    expect(commands).toContain("AbortMultipartUpload");
    expect(commands).not.toContain("CompleteMultipartUpload");
    expect(commands).not.toContain("PutObject");
  });
});
