import { handle } from "hono/aws-lambda";
import * as z from "zod";
import { parseEvent } from "../contracts/events.js";

/** The request headers the API reads; the rest (Authorization, cookies, X-Amz-*) carry credentials. */
const KEPT_HEADERS = new Set(["content-type", "content-length", "host", "origin", "accept"]);

/**
 * An API Gateway HTTP API event (payload format 2.0), as far as Hono's adapter reads it. A direct invocation
 * with another shape fails here, with InvalidEventError, rather than somewhere inside the adapter.
 */
const apiGatewayEventSchema = z.object({
  version: z.literal("2.0"),
  routeKey: z.string().optional(),
  rawPath: z.string().startsWith("/"),
  rawQueryString: z.string().default(""),
  headers: z
    .record(z.string(), z.string())
    .default({})
    .transform((headers) =>
      Object.fromEntries(Object.entries(headers).filter(([name]) => KEPT_HEADERS.has(name.toLowerCase()))),
    ),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().default(false),
  requestContext: z.object({
    domainName: z.string().default("localhost"),
    requestId: z.string().optional(),
    http: z.object({ method: z.string(), path: z.string().optional() }),
  }),
});

/**
 * The event without its credentials (a SigV4 Authorization header, cookies, a JWT and its claims): what the app
 * is given, and so all the log ever sees. An event of another shape is kept as its type only.
 */
export function withoutCredentials(event: unknown): unknown {
  const parsed = apiGatewayEventSchema.safeParse(event);
  return parsed.success ? parsed.data : { unreadable: typeof event };
}

export interface ApiGatewayResult {
  statusCode: number;
  headers?: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
}

/**
 * The API Lambda's handler over an app: the event checked (InvalidEventError otherwise), then answered by
 * hono/aws-lambda, the adapter Hono ships (its successor package is not published yet).
 */
export function createApiLambdaHandler(
  app: Parameters<typeof handle>[0],
): (event: unknown) => Promise<ApiGatewayResult> {
  const answer = handle(app);
  return async (event) =>
    (await answer(parseEvent(apiGatewayEventSchema, event, "api") as never)) as ApiGatewayResult;
}
