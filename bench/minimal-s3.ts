import { once } from "node:events";
import { Worker } from "node:worker_threads";

/**
 * An S3 endpoint that does only what any S3 must do with an upload's bytes, or less: with `store`, each PUT body
 * is hashed with MD5 (the ETag S3 answers) and written once to a file in `store`, kept until its object is
 * deleted; without, the bytes are thrown away. Nothing else: no routing, XML parsing, metadata or object
 * assembly. The ingest step measured against the first is the floor for any embedded S3 on this machine; against
 * the second, the step's own ceiling. It runs in a worker thread, as the embedded S3 does
 * (src/local/s3-server.ts), so that the three compare alike.
 */
export async function startMinimalS3(store?: string): Promise<{ endpoint: string; close(): Promise<void> }> {
  const worker = new Worker(new URL("./minimal-s3-worker.mjs", import.meta.url), { workerData: { store } });
  const [message] = (await once(worker, "message")) as [{ port: number }];
  return {
    endpoint: `http://127.0.0.1:${message.port}`,
    close: async () => {
      const exited = once(worker, "exit");
      worker.postMessage("close");
      await exited;
    },
  };
}
