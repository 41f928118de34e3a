import S3rver from "s3rver";

export interface RunningS3 {
  endpoint: string;
  close(): Promise<void>;
}

/** Starts s3rver on an ephemeral loopback port, its objects kept in `directory`. */
export async function startS3Server(directory: string, buckets: readonly string[]): Promise<RunningS3> {
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    directory,
    silent: true,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = await server.run();
  return { endpoint: `http://127.0.0.1:${port}`, close: () => server.close() };
}
