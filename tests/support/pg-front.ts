import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A misbehaving front for a Postgres server, speaking just enough of the wire protocol
 * (https://www.postgresql.org/docs/current/protocol-message-formats.html) to fail the way networks and servers
 * do: it can ask for a password and refuse it with SQLSTATE 28P01 (the upstream test servers trust everyone),
 * drop a connection before a chosen statement reaches the server, or after the server ran it and before the
 * client hears back (a lost COMMIT acknowledgement), and drop every open connection at once (a failover).
 */
export type QueryAction = "pass" | "cut-before" | "cut-after-reply";

export interface PgFrontOptions {
  upstream: { host: string; port: number };
  /** When set, every connection must log in with this password (read at each login, so tests can rotate it). */
  password?: () => string;
  /** Decides, for each statement a client sends, whether the connection survives it. */
  onQuery?: (sql: string) => QueryAction;
}

export interface PgFront {
  host: string;
  port: number;
  /** Statements seen, in order, across connections. */
  queries: string[];
  /** Logins attempted, and refused for a wrong password. */
  logins: { attempted: number; refused: number };
  dropAll(): void;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;

export async function startPgFront(options: PgFrontOptions): Promise<PgFront> {
  const open = new Set<Socket>();
  const front: PgFront = {
    host: "127.0.0.1",
    port: 0,
    queries: [],
    logins: { attempted: 0, refused: 0 },
    dropAll: () => {
      for (const socket of open) socket.destroy();
    },
    close: async () => {
      front.dropAll();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const track = (socket: Socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    socket.on("error", () => {});
  };

  const server: Server = createServer((client) => {
    track(client);
    let pending = Buffer.alloc(0);
    let phase: "startup" | "password" | "relay" = "startup";
    let startup: Buffer | undefined;
    let upstream: Socket | undefined;
    let cutOnReply = false;

    const relay = (message: Buffer) => {
      if (!upstream) return;
      const type = String.fromCharCode(message[0] ?? 0);
      if (type === "Q" || type === "P") {
        const sql = queryText(message, type);
        front.queries.push(sql);
        const action = options.onQuery?.(sql) ?? "pass";
        if (action === "cut-before") {
          client.destroy();
          upstream.destroy();
          return;
        }
        if (action === "cut-after-reply") cutOnReply = true;
      }
      upstream.write(message);
    };

    const openUpstream = (first: Buffer) => {
      upstream = connect(options.upstream.port, options.upstream.host);
      track(upstream);
      upstream.write(first);
      let answer = Buffer.alloc(0);
      upstream.on("data", (chunk: Buffer) => {
        if (!cutOnReply) {
          client.write(chunk);
          return;
        }
        // Hold the answer back until the server says it is ready again, then drop the client instead.
        answer = Buffer.concat([answer, chunk]);
        for (const message of frames(answer, true)) {
          if (message.type === "Z") {
            client.destroy();
            upstream?.destroy();
            return;
          }
        }
      });
      upstream.on("close", () => client.destroy());
      client.on("close", () => upstream?.destroy());
    };

    client.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (phase === "startup") {
          if (pending.length < 8) return;
          const length = pending.readInt32BE(0);
          if (pending.length < length) return;
          const message = pending.subarray(0, length);
          pending = pending.subarray(length);
          const code = message.readInt32BE(4);
          if (code === SSL_REQUEST) {
            client.write("N");
            continue;
          }
          if (code === CANCEL_REQUEST) {
            openUpstream(Buffer.from(message));
            phase = "relay";
            continue;
          }
          front.logins.attempted += 1;
          if (options.password) {
            startup = Buffer.from(message);
            client.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3])); // AuthenticationCleartextPassword
            phase = "password";
            continue;
          }
          openUpstream(Buffer.from(message));
          phase = "relay";
          continue;
        }
        const [message] = frames(pending, false);
        if (!message) return;
        pending = pending.subarray(message.bytes.length);
        if (phase === "password") {
          const given = message.bytes.subarray(5, message.bytes.length - 1).toString("utf8");
          if (message.type !== "p" || given !== options.password?.()) {
            front.logins.refused += 1;
            client.end(errorResponse("28P01", `password authentication failed for user "${user(startup)}"`));
            return;
          }
          // The upstream trusts loopback: it answers AuthenticationOk and the session goes on from there.
          openUpstream(startup as Buffer);
          phase = "relay";
          continue;
        }
        relay(Buffer.from(message.bytes));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  front.port = typeof address === "object" && address ? address.port : 0;
  return front;
}

/** Complete typed messages at the start of `buffer` (type byte, then a length that counts itself). */
function frames(buffer: Buffer, all: boolean): Array<{ type: string; bytes: Buffer }> {
  const found: Array<{ type: string; bytes: Buffer }> = [];
  let offset = 0;
  while (buffer.length - offset >= 5) {
    const length = buffer.readInt32BE(offset + 1);
    if (buffer.length - offset < length + 1) break;
    found.push({
      type: String.fromCharCode(buffer[offset] ?? 0),
      bytes: buffer.subarray(offset, offset + length + 1),
    });
    offset += length + 1;
    if (!all) break;
  }
  return found;
}

/** The SQL of a simple Query (text) or a Parse (statement name, then text). */
function queryText(message: Buffer, type: string): string {
  let start = 5;
  if (type === "P") start = message.indexOf(0, start) + 1;
  return message.subarray(start, message.indexOf(0, start)).toString("utf8");
}

function user(startup: Buffer | undefined): string {
  const fields = startup?.subarray(8).toString("utf8").split("\0") ?? [];
  return fields[fields.indexOf("user") + 1] ?? "";
}

function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`, "utf8");
  const header = Buffer.alloc(5);
  header.write("E", 0);
  header.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([header, fields]);
}
