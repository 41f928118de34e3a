/** The body CloudFormation expects at the pre-signed ResponseURL. */
export interface CloudFormationResponse {
  Status: "SUCCESS" | "FAILED";
  Reason?: string;
  PhysicalResourceId: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  NoEcho: false;
  Data?: Record<string, string>;
}

/**
 * PUTs the response to the pre-signed S3 URL. The empty Content-Type is part of the signature CloudFormation
 * made, and a few retries cover the S3 blips that would otherwise leave the stack waiting.
 */
export async function putResponse(
  responseUrl: string,
  body: CloudFormationResponse,
  attempts = 3,
): Promise<void> {
  const payload = JSON.stringify(body);
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      const response = await fetch(responseUrl, {
        method: "PUT",
        headers: { "content-type": "" },
        body: payload,
        signal: AbortSignal.timeout(10_000),
      });
      if (response.ok) return;
      lastError = new Error(`response upload failed with HTTP ${response.status}: ${await response.text()}`);
      // 4xx means the URL expired or the signature does not match; repeating the request cannot fix either.
      if (response.status < 500) break;
    } catch (error) {
      lastError = error;
    }
    if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
  }
  throw lastError;
}
