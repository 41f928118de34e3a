/**
 * A request the API answers with an error of its own making: an HTTP status and a stable code. Failures of the
 * pipeline's parts (RoadtollError) are mapped to these in create-api.ts; anything else is a 500 whose details
 * stay in the log.
 */
export class HttpError extends Error {
  override readonly name = "HttpError";

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
