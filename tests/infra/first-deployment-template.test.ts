// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${...}` are CloudFormation placeholders, not JS.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DOCKERFILE, root } from "./bundle.js";
import { type Json, type JsonObject, loadCloudFormation, subString } from "./cloudformation.js";

/** The template points of issue 16: what a first deployment on AWS needs, and what must not be left open. */

const template = loadCloudFormation(join(root, "template.yaml"));
const resources = template.Resources as Record<string, JsonObject>;
const parameters = template.Parameters as Record<string, JsonObject>;
const conditions = template.Conditions as Record<string, Json>;
const properties = (name: string) => {
  const resource = resources[name];
  if (!resource) throw new Error(`template.yaml has no ${name}`);
  return resource.Properties as JsonObject;
};

describe("template.yaml: availability zones", () => {
  it("takes the subnets' zones as IDs from a parameter, empty by default", () => {
    const parameter = parameters.VpcAvailabilityZoneIds as JsonObject;
    expect(parameter.Type).toBe("CommaDelimitedList");
    expect(parameter.Default).toBe("");
    expect(String(parameter.Description)).toMatch(/use1-az3/);
  });

  it("pins zone IDs use1-az1 and use1-az2 in us-east-1 (never use1-az3), the given IDs when given, !GetAZs elsewhere", () => {
    expect(conditions.PinVpcAvailabilityZoneIds).toEqual({
      "Fn::Or": [
        { Condition: "HasVpcAvailabilityZoneIds" },
        { "Fn::Equals": [{ Ref: "AWS::Region" }, "us-east-1"] },
      ],
    });
    for (const [index, subnet] of ["PrivateSubnetA", "PrivateSubnetB"].entries()) {
      const subnetProperties = properties(subnet);
      expect(subnetProperties.AvailabilityZone).toEqual({
        "Fn::If": [
          "PinVpcAvailabilityZoneIds",
          { Ref: "AWS::NoValue" },
          { "Fn::Select": [index, { "Fn::GetAZs": "" }] },
        ],
      });
      expect(subnetProperties.AvailabilityZoneId).toEqual({
        "Fn::If": [
          "PinVpcAvailabilityZoneIds",
          {
            "Fn::If": [
              "HasVpcAvailabilityZoneIds",
              { "Fn::Select": [index, { Ref: "VpcAvailabilityZoneIds" }] },
              `use1-az${index + 1}`,
            ],
          },
          { Ref: "AWS::NoValue" },
        ],
      });
    }
  });
});

describe("template.yaml: the S3 gateway endpoint", () => {
  const policy = properties("S3GatewayEndpoint").PolicyDocument as { Statement: JsonObject[] };
  const resourcesOf = (statement: JsonObject) =>
    [statement.Resource].flat().map((resource) => subString(resource as Json) ?? JSON.stringify(resource));

  it("lets the in-VPC functions reach the data bucket and CloudFormation's response buckets, nothing else", () => {
    expect(policy.Statement.every((statement) => statement.Effect === "Allow")).toBe(true);
    expect(policy.Statement.flatMap(resourcesOf).sort()).toEqual([
      "${DataBucket.Arn}/*",
      "arn:${AWS::Partition}:s3:::cloudformation-custom-resource-response-*/*",
      '{"Fn::GetAtt":["DataBucket","Arn"]}',
    ]);
    const responses = policy.Statement.find((statement) =>
      resourcesOf(statement)[0]?.includes("cloudformation"),
    );
    expect(responses?.Action).toEqual(["s3:PutObject"]);
    expect(policy.Statement.flatMap((statement) => [statement.Action].flat())).not.toContain("s3:*");
  });
});

describe("template.yaml: uploads", () => {
  it("expires landing/ after LandingRetentionDays, whose bytes are kept under raw/ and clean/", () => {
    const bucket = properties("DataBucket");
    const rules = ((bucket.LifecycleConfiguration as JsonObject).Rules ?? []) as JsonObject[];
    const landing = rules.find((rule) => rule.Prefix === "landing/");
    expect(landing).toMatchObject({ Status: "Enabled", ExpirationInDays: { Ref: "LandingRetentionDays" } });
    expect((parameters.LandingRetentionDays as JsonObject).Default).toBeGreaterThanOrEqual(1);
  });
});

describe("template.yaml: the refresh schedule's role", () => {
  it("is the stack's own role, trusted by EventBridge Scheduler for this account only, that may only start the machine", () => {
    const machine = properties("PipelineStateMachine");
    const schedule = ((machine.Events as JsonObject).Refresh as JsonObject).Properties as JsonObject;
    expect(schedule.RoleArn).toEqual({ "Fn::GetAtt": ["RefreshScheduleRole", "Arn"] });
    const role = properties("RefreshScheduleRole");
    expect((role.AssumeRolePolicyDocument as JsonObject).Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "scheduler.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } },
      },
    ]);
    const statements = (role.Policies as JsonObject[]).flatMap(
      (policy) => (policy.PolicyDocument as JsonObject).Statement as JsonObject[],
    );
    expect(statements).toEqual([
      { Action: "states:StartExecution", Effect: "Allow", Resource: { Ref: "PipelineStateMachine" } },
    ]);
  });
});

describe("template.yaml: landing events that fail", () => {
  const target = (properties("LandingObjectRule").Targets as JsonObject[])[0] as JsonObject;
  const alarmOn = (metric: string) =>
    Object.values(resources).find(
      (resource) =>
        resource.Type === "AWS::CloudWatch::Alarm" &&
        (resource.Properties as JsonObject).MetricName === metric,
    )?.Properties as JsonObject | undefined;

  it("sends what the landing rule cannot deliver to a dead-letter queue that only that rule may write", () => {
    expect(target.DeadLetterConfig).toEqual({ Arn: { "Fn::GetAtt": ["LandingDeadLetterQueue", "Arn"] } });
    const queue = properties("LandingDeadLetterQueue");
    expect(queue.MessageRetentionPeriod).toBe(1209600);
    expect(queue.SqsManagedSseEnabled).toBe(true);
    const policy = properties("LandingDeadLetterQueuePolicy");
    expect(policy.Queues).toEqual([{ Ref: "LandingDeadLetterQueue" }]);
    expect((policy.PolicyDocument as JsonObject).Statement).toEqual([
      expect.objectContaining({
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: { "Fn::GetAtt": ["LandingDeadLetterQueue", "Arn"] },
        Condition: { ArnEquals: { "aws:SourceArn": { "Fn::GetAtt": ["LandingObjectRule", "Arn"] } } },
      }),
    ]);
  });

  it("alarms on the rule's failed invocations and on any dead letter, through the alarm topic", () => {
    const failed = alarmOn("FailedInvocations");
    expect(failed).toMatchObject({
      Namespace: "AWS/Events",
      Dimensions: [{ Name: "RuleName", Value: { Ref: "LandingObjectRule" } }],
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      AlarmActions: [{ Ref: "AlarmTopic" }],
    });
    const dead = alarmOn("ApproximateNumberOfMessagesVisible");
    expect(dead).toMatchObject({
      Namespace: "AWS/SQS",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": ["LandingDeadLetterQueue", "QueueName"] } }],
      Threshold: 1,
      AlarmActions: [{ Ref: "AlarmTopic" }],
    });
  });
});

describe("the image's base images", () => {
  const dockerfile = readFileSync(join(root, DOCKERFILE), "utf8");
  const pins = Object.fromEntries(
    [...dockerfile.matchAll(/^ARG (NODE_IMAGE|LAMBDA_IMAGE)=(\S+)$/gm)].map((match) => [match[1], match[2]]),
  );
  const scratch = mkdtempSync(join(tmpdir(), "roadtoll-pin-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("are pinned by digest, and every stage is built FROM one of them", () => {
    expect(pins.NODE_IMAGE).toMatch(/^node:22-bookworm-slim@sha256:[0-9a-f]{64}$/);
    expect(pins.LAMBDA_IMAGE).toMatch(/^public\.ecr\.aws\/lambda\/nodejs:22@sha256:[0-9a-f]{64}$/);
    const froms = dockerfile.split("\n").filter((line) => line.startsWith("FROM "));
    expect(froms).toEqual(["FROM ${NODE_IMAGE} AS build", "FROM ${LAMBDA_IMAGE}"]);
  });

  it("are re-pinned by scripts/pin-base-images.sh to each tag's current digest", () => {
    // A stand-in for `docker buildx imagetools inspect`: a digest per image, as the registry would answer.
    const bin = join(scratch, "bin");
    execFileSync("mkdir", ["-p", bin]);
    writeFileSync(
      join(bin, "docker"),
      '#!/bin/sh\ncase "$4" in node:*) echo sha256:' +
        "1".repeat(64) +
        " ;; public.ecr.aws/*) echo sha256:" +
        "2".repeat(64) +
        " ;; *) exit 1 ;; esac\n",
    );
    chmodSync(join(bin, "docker"), 0o755);
    const copy = join(scratch, "Dockerfile");
    copyFileSync(join(root, DOCKERFILE), copy);
    execFileSync("bash", [join(root, "scripts/pin-base-images.sh")], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, DOCKERFILE: copy },
      stdio: "pipe",
    });
    const pinned = readFileSync(copy, "utf8");
    expect(pinned).toContain(`ARG NODE_IMAGE=node:22-bookworm-slim@sha256:${"1".repeat(64)}\n`);
    expect(pinned).toContain(`ARG LAMBDA_IMAGE=public.ecr.aws/lambda/nodejs:22@sha256:${"2".repeat(64)}\n`);
    // Nothing else changed.
    const unpinned = (text: string) => text.replace(/^ARG (NODE|LAMBDA)_IMAGE=.*$/gm, "");
    expect(unpinned(pinned)).toBe(unpinned(dockerfile));
  });
});
