import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";

export interface RunningHttpServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves a Hono app on 127.0.0.1 with @hono/node-server. What Node answers before the app sees a request (a
 * header block over its limit, a request it cannot parse) is answered in the app's JSON error form too.
 */
export async function startHttpServer(
  fetch: (request: Request) => Response | Promise<Response>,
  port: number,
): Promise<RunningHttpServer> {
  // overrideGlobalObjects: false leaves the process's own Request and Response (undici's, for downloads) alone.
  // autoCleanupIncoming: false lets Node read and discard a body the app did not read (one over the limit):
  // destroying it instead resets the connection, and the client may lose the 413 that was already sent.
  const server = serve({
    fetch,
    port,
    hostname: "127.0.0.1",
    overrideGlobalObjects: false,
    autoCleanupIncoming: false,
  }) as Server;
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || error.code === "ECONNRESET") return socket.destroy();
    const tooLarge = error.code === "HPE_HEADER_OVERFLOW";
    const body = JSON.stringify({
      error: tooLarge
        ? { code: "HeadersTooLarge", message: "the request's header block is over the server's limit" }
        : { code: "MalformedRequest", message: "the request is not HTTP/1.1 this server can read" },
    });
    socket.end(
      `HTTP/1.1 ${tooLarge ? "431 Request Header Fields Too Large" : "400 Bad Request"}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `cache-control: no-store\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  if (!server.listening) {
    await Promise.race([
      once(server, "listening"),
      once(server, "error").then(([error]) => Promise.reject(error)),
    ]);
  }
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
