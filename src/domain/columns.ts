/** The vehicle columns the metric is computed for, in the order reports list them. */
export const VEHICLES = ["automovel", "bicicleta", "caminhao", "moto", "onibus"] as const;
export type Vehicle = (typeof VEHICLES)[number];

/** Columns (after header normalisation) that must be present for the pipeline to compute anything. */
export const REQUIRED_COLUMNS = ["trecho", ...VEHICLES, "mortos"] as const;

/**
 * Columns the ingest step appends to every row of the clean file. Appending (never inserting) keeps a row's
 * original field count visible downstream: a row with n fields becomes n + 2 fields, so a short or long row
 * still fails the field-count check in the deaths step.
 */
export const SOURCE_LINE_COLUMN = "source_line";
export const ROAD_NAME_COLUMN = "road_name";
