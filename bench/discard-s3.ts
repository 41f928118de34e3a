import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An S3 endpoint that accepts uploads and throws the bytes away: PutObject, and the multipart calls an upload
 * makes. Measuring the ingest step against it gives the step's own ceiling, without the cost of the S3 server
 * (s3rver hashes and writes every byte on this machine's other core; S3 does that on its own machines).
 */
export async function startDiscardS3(): Promise<{ endpoint: string; close(): Promise<void> }> {
  let uploads = 0;
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    request.resume();
    request.on("end", () => {
      if (request.method === "POST" && url.searchParams.has("uploads")) {
        uploads++;
        response.writeHead(200, { "content-type": "application/xml" });
        response.end(
          `<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>u${uploads}</UploadId></InitiateMultipartUploadResult>`,
        );
      } else if (request.method === "POST" && url.searchParams.has("uploadId")) {
        response.writeHead(200, { "content-type": "application/xml" });
        response.end(
          `<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><ETag>"done"</ETag></CompleteMultipartUploadResult>`,
        );
      } else if (request.method === "PUT") {
        response.writeHead(200, { etag: `"part"` }).end();
      } else if (request.method === "DELETE") {
        response.writeHead(204).end();
      } else {
        response.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
