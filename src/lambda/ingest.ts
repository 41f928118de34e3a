import { createDownloader } from "../adapters/http-download.js";
import { loadLinks } from "../adapters/links.js";
import { createS3Client, ObjectStore } from "../adapters/object-store.js";
import { loadDownloadConfig, loadStorageConfig } from "../config.js";
import { createIngestHandler } from "../handlers/ingest-handler.js";
import { instrument } from "./instrument.js";

// Cold start: configuration is validated and clients are created once, then reused by every invocation.
const storage = loadStorageConfig();
const download = loadDownloadConfig();
const store = new ObjectStore(createS3Client(storage), storage.bucket);

export const handler = instrument(
  "ingest",
  createIngestHandler({
    store,
    download: createDownloader(download),
    links: await loadLinks(download.linksFile),
  }),
);
