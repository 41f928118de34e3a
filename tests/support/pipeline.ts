import { createDownloader } from "../../src/adapters/http-download.js";
import { loadDownloadConfig } from "../../src/config.js";
import { createDeathsHandler, type DeathsHandler } from "../../src/handlers/deaths-handler.js";
import { createIngestHandler, type IngestHandler } from "../../src/handlers/ingest-handler.js";
import { type RunningFileServer, startFileServer } from "../../src/local/file-server.js";
import { openTestDatabase, type TestDatabase } from "./database.js";
import { startTestStorage, type TestStorage } from "./storage.js";

/** Both real handlers on a real S3 server and database, downloading from a folder served on loopback. */
export interface TestPipeline {
  storage: TestStorage;
  database: TestDatabase;
  files: RunningFileServer;
  ingest: IngestHandler;
  deaths: DeathsHandler;
  close(): Promise<void>;
}

export async function startTestPipeline(
  directory: string,
  options: { allowDuplicates?: boolean } = {},
): Promise<TestPipeline> {
  const [storage, database, files] = await Promise.all([
    startTestStorage(),
    openTestDatabase(),
    startFileServer(directory),
  ]);
  return {
    storage,
    database,
    files,
    ingest: createIngestHandler({
      store: storage.ingest.store,
      download: createDownloader({ ...loadDownloadConfig({}), addressPolicy: "loopback" }),
      links: {},
    }),
    deaths: createDeathsHandler({
      store: storage.deaths.store,
      db: database.db,
      allowDuplicates: options.allowDuplicates ?? false,
    }),
    close: async () => {
      await files.close();
      await database.close();
      await storage.close();
    },
  };
}
