import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** A moto_server (https://docs.getmoto.org/en/latest/docs/server_mode.html) child process on loopback. */
export interface RunningMoto {
  endpoint: string;
  close(): Promise<void>;
}

/** Where `moto_server` is on PATH, or undefined: what tests that need it test before starting it. */
export function motoServerPath(): string | undefined {
  for (const folder of (process.env.PATH ?? "").split(delimiter)) {
    if (!folder) continue;
    const candidate = join(folder, "moto_server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

const STARTUP_MS = 30_000;

/**
 * Starts `moto_server` on 127.0.0.1 and a port the kernel picks (`-p 0`; werkzeug prints the one it bound, so
 * no race for a free port), and waits until it answers S3's ListBuckets. It runs in its own process group, and
 * `close` stops that group (pyenv's shim, the Python behind it, and any reloader). A run that dies without
 * calling `close` still kills it on exit. Fails loudly when moto_server is not installed: a test asked for moto
 * must not quietly run against something else.
 */
export async function startMotoS3(): Promise<RunningMoto> {
  const executable = motoServerPath();
  if (!executable) {
    throw new Error(
      "moto_server is not on PATH, and moto's S3 was asked for (ROADTOLL_TEST_S3=moto): " +
        "pip install 'moto[server]', or unset ROADTOLL_TEST_S3 to use s3rver",
    );
  }
  const child = spawn(executable, ["-H", "127.0.0.1", "-p", "0"], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    // Python buffers a pipe's output; the line naming the port must come at once.
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
  });
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {}
  };
  const onExit = () => killGroup("SIGKILL");
  process.once("exit", onExit);

  // Werkzeug logs every request: the output is read all along (a full pipe would block the server), and its
  // tail is kept for the error message should it stop.
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);

  try {
    const port = await listeningPort(child, () => output);
    const endpoint = `http://127.0.0.1:${port}`;
    await answering(endpoint, child, () => output);
    return {
      endpoint,
      close: async () => {
        process.removeListener("exit", onExit);
        await stop(child, killGroup);
      },
    };
  } catch (error) {
    process.removeListener("exit", onExit);
    await stop(child, killGroup);
    throw error;
  }
}

async function listeningPort(child: ChildProcess, output: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`moto_server did not start within ${STARTUP_MS} ms:\n${output()}`)),
      STARTUP_MS,
    );
    const look = () => {
      const match = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(output());
      if (match) done(() => resolve(Number(match[1])));
    };
    const exited = (code: number | null, signal: string | null) =>
      fail(new Error(`moto_server exited (code ${code}, signal ${signal}) before listening:\n${output()}`));
    const fail = (error: Error) => done(() => reject(error));
    const done = (settle: () => void) => {
      clearTimeout(timer);
      child.stdout?.off("data", look);
      child.stderr?.off("data", look);
      child.off("exit", exited);
      child.off("error", fail);
      settle();
    };
    child.stdout?.on("data", look);
    child.stderr?.on("data", look);
    child.once("exit", exited);
    child.once("error", fail);
  });
}

/** Polls ListBuckets until the server answers 200 (the port is bound a moment before requests are served). */
async function answering(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + STARTUP_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`moto_server exited before answering:\n${output()}`);
    }
    try {
      const response = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`moto_server at ${endpoint} did not answer:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stop(child: ChildProcess, killGroup: (signal: NodeJS.Signals) => void): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  killGroup("SIGTERM");
  const timer = setTimeout(() => killGroup("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
  // Whatever else the group held (a reloader's child) goes too.
  killGroup("SIGKILL");
}
