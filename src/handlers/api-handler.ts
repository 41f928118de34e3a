import * as z from "zod";
import type { Api } from "../api/create-api.js";
import { parseEvent } from "./schemas.js";

/**
 * The part of an API Gateway HTTP API (payload format 2.0) event the API reads. The request's own fields are
 * checked by the API's schemas; this only checks that the event is one (a direct invocation with another shape
 * fails here, with InvalidEventError).
 */
export const apiGatewayEventSchema = z.object({
  version: z.literal("2.0"),
  rawPath: z.string().startsWith("/"),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().default(false),
  queryStringParameters: z.record(z.string(), z.string()).optional(),
  requestContext: z.object({ http: z.object({ method: z.string() }) }),
});

/**
 * The event without its headers, cookies and authorizer context, which carry credentials (a SigV4 Authorization
 * header, a JWT and its claims): what the handler is given, and so all the log ever sees.
 */
export function withoutCredentials(event: unknown): unknown {
  const parsed = apiGatewayEventSchema.safeParse(event);
  return parsed.success ? parsed.data : { unreadable: typeof event };
}

export interface ApiGatewayResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** The API Lambda's handler: API Gateway's event in, the API's answer as API Gateway's result out. */
export function createApiHandler(api: Api): (event: unknown) => Promise<ApiGatewayResult> {
  return async (event) => {
    const request = parseEvent(apiGatewayEventSchema, event, "api");
    const response = await api({
      method: request.requestContext.http.method.toUpperCase(),
      path: request.rawPath,
      query: request.queryStringParameters ?? {},
      body:
        request.body === undefined
          ? undefined
          : request.isBase64Encoded
            ? Buffer.from(request.body, "base64").toString("utf8")
            : request.body,
    });
    return {
      statusCode: response.status,
      headers: { "content-type": "application/json", "cache-control": "no-store", ...response.headers },
      body: JSON.stringify(response.body),
    };
  };
}
