import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { GetObjectCommand, PutObjectCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { answerInProcess, type SentRequest } from "../../tests/support/sent-requests.js";
import { createS3Client } from "./object-store.js";
import { transportProtects } from "./unsigned-payload.js";

const KEYS = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };

const body = Buffer.from("data_inversa,mortos,automovel\n2024-01-01,1,1\n".repeat(1000));
const sha256 = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");
const crc32Base64 = (bytes: Buffer) => {
  const value = Buffer.alloc(4);
  value.writeUInt32BE(crc32(bytes));
  return value.toString("base64");
};

async function sendAll(endpoint: string | undefined): Promise<SentRequest[]> {
  const client = createS3Client(
    { bucket: "roadtoll-data", region: "sa-east-1", endpoint, forcePathStyle: endpoint !== undefined },
    KEYS,
  );
  const sent = answerInProcess(client);
  const object = { Bucket: "roadtoll-data", Key: "clean/ecovias.csv" };
  await client.send(new UploadPartCommand({ ...object, UploadId: "u1", PartNumber: 1, Body: body }));
  await client.send(new PutObjectCommand({ ...object, Body: body }));
  await client.send(new GetObjectCommand(object)).catch(() => {});
  return sent;
}

describe("object bodies signed without hashing them", () => {
  it("on AWS (TLS): UNSIGNED-PAYLOAD, with each body's CRC32 in a signed header S3 verifies", async () => {
    const [part, put, get] = await sendAll(undefined);
    for (const request of [part, put]) {
      expect(request?.headers["x-amz-content-sha256"]).toBe("UNSIGNED-PAYLOAD");
      expect(request?.headers["x-amz-checksum-crc32"]).toBe(crc32Base64(body));
      expect(request?.signedHeaders).toEqual(
        expect.arrayContaining(["x-amz-checksum-crc32", "x-amz-content-sha256"]),
      );
    }
    // A request without an object body keeps the hash of its (empty) payload.
    expect(get?.headers["x-amz-content-sha256"]).toBe(sha256(""));
  });

  it("on loopback (the embedded S3) and on any https endpoint, unhashed; over plain HTTP elsewhere, hashed", async () => {
    for (const endpoint of [
      "http://127.0.0.1:4569",
      "http://localhost:4569",
      "http://[::1]:4569",
      "https://s3.example.test",
    ]) {
      const [part] = await sendAll(endpoint);
      expect(part?.headers["x-amz-content-sha256"], endpoint).toBe("UNSIGNED-PAYLOAD");
    }
    const [part, put] = await sendAll("http://192.0.2.10:9000");
    expect(part?.headers["x-amz-content-sha256"]).toBe(sha256(body));
    expect(put?.headers["x-amz-content-sha256"]).toBe(sha256(body));
  });

  it("judges the transport by the request's own protocol and host", () => {
    expect(transportProtects({ protocol: "https:", hostname: "s3.sa-east-1.amazonaws.com" })).toBe(true);
    expect(transportProtects({ protocol: "http:", hostname: "127.0.0.53" })).toBe(true);
    expect(transportProtects({ protocol: "http:", hostname: "127.0.0.1.example.test" })).toBe(false);
    expect(transportProtects({ protocol: "http:", hostname: "10.0.0.5" })).toBe(false);
    expect(transportProtects({ protocol: "http:", hostname: "localhost.example.test" })).toBe(false);
  });
});
