import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Api, ApiRequest } from "../api/create-api.js";

export interface RunningApiServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** A body larger than this is answered 413 without reading it all (the API's own limit is lower). */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Serves the API over node:http on loopback: what API Gateway is to the Lambda, with no authorization, which is
 * why it listens on 127.0.0.1 only. Each request becomes the same ApiRequest the Lambda handler builds.
 */
export async function startApiServer(api: Api, port: number): Promise<RunningApiServer> {
  const server = createServer(async (request, response) => {
    let reply: { status: number; body: unknown; headers?: Record<string, string> };
    try {
      reply = await api(await toApiRequest(request));
    } catch (error) {
      reply =
        error instanceof BodyTooLargeError
          ? { status: 413, body: { error: { code: "PayloadTooLarge", message: error.message } } }
          : { status: 500, body: { error: { code: "InternalError", message: "internal error" } } };
    }
    response.writeHead(reply.status, {
      "content-type": "application/json",
      "cache-control": "no-store",
      ...reply.headers,
    });
    response.end(JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    server,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

class BodyTooLargeError extends Error {}

async function toApiRequest(request: IncomingMessage): Promise<ApiRequest> {
  const url = new URL(request.url ?? "/", "http://127.0.0.1");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLargeError(`the body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return {
    method: (request.method ?? "GET").toUpperCase(),
    path: url.pathname,
    // API Gateway joins a repeated parameter's values with commas; so does this.
    query: Object.fromEntries(
      [...new Set(url.searchParams.keys())].map((name) => [name, url.searchParams.getAll(name).join(",")]),
    ),
    body: chunks.length > 0 ? Buffer.concat(chunks).toString("utf8") : undefined,
  };
}
