import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  type ExecutionStatus,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import type { ExecutionDescription, Executions } from "../contracts/executions.js";
import { RoadtollError } from "../errors.js";

export function createSfnClient(config: { region: string; endpoint?: string | undefined }): SFNClient {
  return new SFNClient({
    region: config.region,
    retryMode: "standard",
    maxAttempts: 3,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
  });
}

/**
 * The pipeline's executions in Step Functions. A run's id is its execution's name, so its ARN follows from the
 * state machine's (`…:stateMachine:<machine>` → `…:execution:<machine>:<id>`) and describing it is one call.
 */
export function stepFunctionsExecutions(client: SFNClient, stateMachineArn: string): Executions {
  const executionArn = (id: string) => `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${id}`;
  return {
    async start(id, input) {
      try {
        await client.send(
          new StartExecutionCommand({ stateMachineArn, name: id, input: JSON.stringify(input) }),
        );
      } catch (error) {
        throw serviceError(`cannot start execution ${id}`, error);
      }
    },
    async describe(id) {
      try {
        const execution = await client.send(new DescribeExecutionCommand({ executionArn: executionArn(id) }));
        return describeExecution(id, execution);
      } catch (error) {
        if (error instanceof ExecutionDoesNotExist) return undefined;
        throw serviceError(`cannot describe execution ${id}`, error);
      }
    },
  };
}

function describeExecution(
  id: string,
  execution: {
    status?: ExecutionStatus | undefined;
    startDate?: Date | undefined;
    stopDate?: Date | undefined;
    output?: string | undefined;
    error?: string | undefined;
    cause?: string | undefined;
  },
): ExecutionDescription {
  const status = (execution.status ?? "RUNNING") as ExecutionDescription["status"];
  return {
    id,
    status,
    startedAt: (execution.startDate ?? new Date(0)).toISOString(),
    ...(execution.stopDate ? { stoppedAt: execution.stopDate.toISOString() } : {}),
    ...(status === "SUCCEEDED" && execution.output !== undefined
      ? { output: parseOutput(execution.output) }
      : {}),
    ...(status !== "SUCCEEDED" && status !== "RUNNING" && (execution.error || execution.cause)
      ? { error: { error: execution.error ?? status, cause: execution.cause ?? "" } }
      : {}),
  };
}

function parseOutput(output: string): unknown {
  try {
    return JSON.parse(output);
  } catch {
    return output;
  }
}

/** Throttling, an outage, or a permission missing: the API answers 503 and logs the cause. */
function serviceError(message: string, error: unknown): RoadtollError {
  const detail = error instanceof SFNServiceException ? `${error.name}: ${error.message}` : String(error);
  return new RoadtollError("ExecutionServiceError", `${message} (${detail})`, { cause: error });
}
