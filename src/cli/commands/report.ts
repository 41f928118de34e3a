import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isRoadtollError } from "../../errors.js";
import { lockDataDir } from "../../local/data-dir-lock.js";
import type { ReportSources } from "../../report/load-report-data.js";
import type { CliIo } from "../run.js";
import { dataDirPath, userPath } from "../user-paths.js";
import type { CommandDatabase } from "./database.js";

type Values = Record<string, string | boolean | string[] | undefined>;

export const DEFAULT_BUCKET = "roadtoll-local";

/** `roadtoll report`: the command's entry in COMMANDS (index.ts), which passes its shared usage texts. */
export function reportCommand(databaseOptions: string, exit: string) {
  return {
    usage: `Usage: roadtoll report [--out FILE] [--s3-endpoint URL] [--bucket NAME] [database options]

Writes one self-contained HTML file (inline CSS and SVG charts, no script, nothing fetched): deaths counted once
per accident overall, per source and on the worst roads, with the years they cover and the deaths in accidents
involving each vehicle type; the rejected rows per source with their reasons, and each source's newest run
(lineage). Prints the path written.

  --out FILE          where to write it (default: report.html in the current directory)
  --s3-endpoint URL   read the rejects objects (for their reasons) from this S3-compatible server; the keys come
                      from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, else the AWS SDK's chain
  --bucket NAME       the pipeline's bucket (default: ${DEFAULT_BUCKET})
  --include-samples   also the bundled samples' figures (left out otherwise; the report names them)
Without --s3-endpoint, the reasons come from the embedded S3's objects under the data directory, when there are
any; without a bucket, the report shows reject counts and says the reasons were not read.

${databaseOptions}

${exit}`,
    options: {
      out: { type: "string" as const },
      "s3-endpoint": { type: "string" as const },
      bucket: { type: "string" as const },
      "include-samples": { type: "boolean" as const },
    },
    formats: ["table"] as const,
    positionals: 0,
    leavesSamplesOut: true,
    async run(
      { db }: CommandDatabase,
      values: Values,
      _positionals: string[],
      _format: string,
      io: CliIo,
      leftOut: readonly string[],
    ) {
      const out = userPath(io, (values.out as string | undefined) ?? "report.html");
      const [{ loadReportData }, { renderReport }] = await Promise.all([
        import("../../report/load-report-data.js"),
        import("../../report/render-report.js"),
      ]);
      const rejects = await openCommandBucket(values, io);
      let html: string;
      try {
        html = renderReport(
          await loadReportData(db, {
            ...rejects,
            leftOut,
            leftOutNote: "They are the bundled samples: roadtoll report --include-samples shows them.",
          }),
        );
      } finally {
        await rejects.close();
      }
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, html);
      io.stdout(`${out}\n`);
      if (rejects.noStore) io.stderr(`roadtoll report: reject reasons not read: ${rejects.noStore}\n`);
      return 0;
    },
  };
}

/**
 * The pipeline's bucket, for a command that reads or tidies it (report: the rejects objects; forget: curated/
 * and state/): the server given, else the embedded s3rver's files under the data directory
 * (started here for the reading). The directory's lock is already held when the database is PGlite; with
 * --database-url it is taken here, so a pipeline run on the same directory is never read mid-write.
 */
export async function openCommandBucket(
  values: Values,
  io: CliIo,
): Promise<ReportSources & { noStore?: string; close(): Promise<void> }> {
  // Loaded here, not with the CLI: the read commands that need no bucket start without the AWS SDK.
  const { createS3Client, ObjectStore } = await import("../../adapters/object-store.js");
  const bucket = (values.bucket as string | undefined) ?? DEFAULT_BUCKET;
  const region = io.env.AWS_REGION ?? "us-east-1";
  const endpoint = values["s3-endpoint"] as string | undefined;
  if (endpoint) {
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN } = io.env;
    const s3 = createS3Client(
      { bucket, region, endpoint, forcePathStyle: true },
      AWS_ACCESS_KEY_ID && AWS_SECRET_ACCESS_KEY
        ? {
            accessKeyId: AWS_ACCESS_KEY_ID,
            secretAccessKey: AWS_SECRET_ACCESS_KEY,
            ...(AWS_SESSION_TOKEN ? { sessionToken: AWS_SESSION_TOKEN } : {}),
          }
        : undefined,
    );
    return { store: new ObjectStore(s3, bucket), close: async () => s3.destroy() };
  }
  const dataDir = dataDirPath(io, values["data-dir"] as string | undefined);
  const directory = join(dataDir, "s3");
  if (!existsSync(join(directory, bucket))) {
    return { noStore: `no bucket ${bucket} under ${directory} (give --s3-endpoint)`, close: async () => {} };
  }
  const usesPglite = !((values["database-url"] as string | undefined) ?? (io.env.DATABASE_URL || undefined));
  let release = () => {};
  if (!usesPglite) {
    try {
      release = lockDataDir(dataDir).release;
    } catch (error) {
      if (!isRoadtollError(error, "DataDirInUseError")) throw error;
      return { noStore: (error as Error).message, close: async () => {} };
    }
  }
  try {
    const [{ startS3Server }, { LOCAL_CREDENTIALS }] = await Promise.all([
      import("../../local/s3-server.js"),
      import("../../local/environment.js"),
    ]);
    const server = await startS3Server(directory, [bucket]);
    const s3 = createS3Client(
      { bucket, region, endpoint: server.endpoint, forcePathStyle: true },
      LOCAL_CREDENTIALS,
    );
    return {
      store: new ObjectStore(s3, bucket),
      close: async () => {
        s3.destroy();
        await server.close();
        release();
      },
    };
  } catch (error) {
    release();
    throw error;
  }
}
