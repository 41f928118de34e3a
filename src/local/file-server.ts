import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, join } from "node:path";

export interface RunningFileServer {
  baseUrl: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * Serves the files of one folder over HTTP on loopback, streamed, so the default run and the tests download
 * through the real HTTP path without internet. Only plain file names are served: no traversal, no listing.
 */
export async function startFileServer(directory: string): Promise<RunningFileServer> {
  const server = createServer(async (request, response) => {
    const name = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname.slice(1));
    if (name === "" || name !== basename(name)) {
      response.writeHead(404).end();
      return;
    }
    const path = join(directory, name);
    try {
      const info = await stat(path);
      if (!info.isFile()) throw new Error("not a file");
      response.writeHead(200, { "content-type": "text/csv", "content-length": info.size });
      createReadStream(path).pipe(response);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
