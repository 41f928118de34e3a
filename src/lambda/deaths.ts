// First: stack traces read the bundle's source map only when one is formatted (source-map-stacks.ts).
import "./source-map-stacks.js";
import { createS3Client, ObjectStore } from "../adapters/object-store.js";
import { loadDatabaseConfig, loadDeathsConfig, loadStorageConfig } from "../config.js";
import { createDatabase } from "../db/database.js";
import { createDeathsFunctionHandler } from "../handlers/deaths-function.js";
import { instrument } from "./instrument.js";
import { logger } from "./logger.js";
import { createStepMetrics, deathsMeasures } from "./metrics.js";

// Cold start: configuration is validated, the database secret read and clients created once per container.
const storage = loadStorageConfig();
const { maxRejectShare, maxRoadYears } = loadDeathsConfig();
const store = new ObjectStore(createS3Client(storage), storage.bucket);
const db = await createDatabase(loadDatabaseConfig());
const metrics = createStepMetrics("deaths", deathsMeasures, { logger });

/** One function, two tasks: a link's deaths step (ComputeDeaths), or rebuilding curated/ (PublishCurated). */
export const handler = instrument(
  "deaths",
  createDeathsFunctionHandler({ store, db, maxRejectShare, maxRoadYears }),
  logger,
  metrics,
);
