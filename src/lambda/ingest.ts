// First: stack traces read the bundle's source map only when one is formatted (source-map-stacks.ts).
import "./source-map-stacks.js";
import { createDownloader } from "../adapters/http-download.js";
import { linksFromStore } from "../adapters/links.js";
import { createS3Client, ObjectStore } from "../adapters/object-store.js";
import { loadDownloadConfig, loadStorageConfig } from "../config.js";
import { createIngestHandler } from "../handlers/ingest-handler.js";
import { createListLinksHandler, listLinksEventSchema } from "../handlers/list-links-handler.js";
import { stateObjectLookup } from "../pipeline/source-state.js";
import { instrument } from "./instrument.js";
import { logger } from "./logger.js";
import { createStepMetrics, ingestMeasures } from "./metrics.js";

// Cold start: configuration is validated and clients are created once, then reused by every invocation.
const storage = loadStorageConfig();
const download = loadDownloadConfig();
const store = new ObjectStore(createS3Client(storage), storage.bucket);
const downloader = createDownloader(download);
// config/link.yml in the bucket when it is there (read again at most once a minute), else the image's link.yml.
const links = linksFromStore(store, download.linksKey, download.linksFile);
const listLinks = createListLinksHandler(links);
const metrics = createStepMetrics("ingest", ingestMeasures, { logger });

/** One function, two tasks: ingest a link, or (for `{"all": true}`) list the configured links. */
export const handler = instrument(
  "ingest",
  async (event: unknown) =>
    listLinksEventSchema.safeParse(event).success
      ? listLinks(event)
      : createIngestHandler({
          store,
          download: downloader,
          // Read (from S3) only by a link given by name or URL: a landing object needs no link.yml.
          links,
          maxObjectBytes: download.maxBytes,
          // Change detection from the state objects the deaths step writes (the function has no database).
          lastRun: stateObjectLookup(store),
        })(event),
  logger,
  metrics,
);
