import { ConfiguredRetryStrategy } from "@smithy/core/retry";

/**
 * The SDK's standard retry (the same retryable errors, attempts and quota as production) with a 1 ms delay in
 * place of its backoff, so fault tests run every attempt without waiting seconds. For createS3Client's options.
 */
export function quickRetry(maxAttempts: number): ConfiguredRetryStrategy {
  return new ConfiguredRetryStrategy(maxAttempts, 1);
}
