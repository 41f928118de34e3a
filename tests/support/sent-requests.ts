import { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";

export interface SentRequest {
  /** The request's headers as signed, names in lower case. */
  headers: Record<string, string>;
  signedHeaders: string[];
}

/**
 * Every request `client` would send, as signed, answered here instead of over the network (the last middleware
 * before the transport, with a 200 and an empty body): nothing leaves the process, whatever the endpoint.
 */
export function answerInProcess(client: S3Client): SentRequest[] {
  const sent: SentRequest[] = [];
  client.middlewareStack.add(
    () => async (args) => {
      const headers = Object.fromEntries(
        Object.entries((args.request as { headers: Record<string, string> }).headers).map(([name, value]) => [
          name.toLowerCase(),
          value,
        ]),
      );
      const signedHeaders = /SignedHeaders=([^,]+)/.exec(headers.authorization ?? "")?.[1]?.split(";") ?? [];
      sent.push({ headers, signedHeaders });
      return {
        response: { statusCode: 200, headers: { etag: '"0"' }, body: Readable.from([]) },
        output: {},
      } as never;
    },
    { step: "deserialize", priority: "low", name: "answerInProcess" },
  );
  return sent;
}
