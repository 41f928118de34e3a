// Runs s3rver in a worker thread (see s3-server.ts). Plain JavaScript so that it loads the same way under tsx,
// vitest and plain node, none of which would transpile a TypeScript worker file.
import { parentPort, workerData } from "node:worker_threads";
import S3rver from "s3rver";

const server = new S3rver({
  address: "127.0.0.1",
  port: 0,
  directory: workerData.directory,
  silent: true,
  configureBuckets: workerData.buckets.map((name) => ({ name })),
});
const { port } = await server.run();
parentPort.postMessage({ port });
parentPort.on("message", async (message) => {
  if (message !== "close") return;
  await server.close();
  parentPort.close();
});
