/**
 * The one public error type. Every failure roadtoll raises on purpose is a `RoadtollError` whose `name` is
 * stable: Step Functions matches `Retry`/`Catch` on it (see statemachine/pipeline.asl.json), so renaming one is a
 * breaking change. `where` says which resource (object, URL, ARN, path), line and column failed, when that is known.
 */
export interface ErrorLocation {
  /** What failed: an object key, a URL (its secrets redacted), an ARN, a path or a prefix. */
  resource?: string;
  line?: number;
  column?: string;
}

export type ErrorName =
  | "InvalidEventError"
  | "ConfigError"
  | "UnknownSourceError"
  | "DownloadError"
  | "DownloadUnavailableError"
  | "DownloadTooLargeError"
  | "DownloadForbiddenError"
  | "EncodingError"
  | "HeaderError"
  | "CsvFormatError"
  | "TooManyRejectsError"
  | "TooManyRoadsError"
  | "NoDataError"
  | "StorageError"
  | "ObjectNotFoundError"
  | "ObjectForbiddenError"
  | "DatabaseError"
  | "DatabaseUnavailableError"
  | "MigrationError"
  | "SchemaError"
  | "DataDirInUseError"
  | "RunNotFoundError"
  | "ExecutionServiceError";

/** Errors a retry can fix (network blips, throttling, a database restarting). The ASL retries exactly these. */
export const TRANSIENT_ERRORS: readonly ErrorName[] = [
  "DownloadUnavailableError",
  "StorageError",
  "DatabaseUnavailableError",
];

export class RoadtollError extends Error {
  override readonly name: ErrorName;
  readonly where: ErrorLocation | undefined;

  constructor(name: ErrorName, message: string, options: { cause?: unknown; where?: ErrorLocation } = {}) {
    super(withLocation(message, options.where), { cause: options.cause });
    this.name = name;
    this.where = options.where;
  }
}

function withLocation(message: string, where: ErrorLocation | undefined): string {
  if (!where) return message;
  const parts = [
    where.resource,
    where.line === undefined ? undefined : `line ${where.line}`,
    where.column === undefined ? undefined : `column ${where.column}`,
  ].filter((part) => part !== undefined);
  return parts.length > 0 ? `${parts.join(", ")}: ${message}` : message;
}

export function isRoadtollError(error: unknown, name?: ErrorName): error is RoadtollError {
  return error instanceof RoadtollError && (name === undefined || error.name === name);
}
