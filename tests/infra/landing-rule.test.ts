// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${...}` are CloudFormation placeholders, not JS.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ingestEventSchema, parseIngestEvent } from "../../src/contracts/events.js";
import { isObject, type Json, type JsonObject, loadCloudFormation, subString } from "./cloudformation.js";

/**
 * The landing/ entry point as deployed: the bucket's events go to EventBridge, a rule picks the CSVs created
 * under landing/ and starts the state machine with `{"object": {bucket, key}}`. The rule's pattern and input
 * transformer are applied here, by a matcher for the pattern features the rule uses, to the example event in
 * events/, and what they produce must be an ingest event.
 */
const root = resolve(import.meta.dirname, "../..");
const template = loadCloudFormation(join(root, "template.yaml"));
const resources = template.Resources as Record<string, JsonObject>;
const readEvent = (name: string): JsonObject =>
  JSON.parse(readFileSync(join(root, "events", name), "utf8")) as JsonObject;

const [ruleName, rule] = Object.entries(resources).find(
  ([, r]) =>
    r.Type === "AWS::Events::Rule" &&
    JSON.stringify((r.Properties as JsonObject).EventPattern ?? {}).includes("Object Created"),
) ?? ["", {}];
const ruleProperties = (rule.Properties ?? {}) as JsonObject;
const [target] = (ruleProperties.Targets ?? []) as JsonObject[];

/** The pattern with `{"Ref": "DataBucket"}` standing for the deployed bucket's name. */
function resolvePattern(pattern: Json, bucket: string): Json {
  if (Array.isArray(pattern)) return pattern.map((item) => resolvePattern(item, bucket));
  if (isObject(pattern)) {
    if (pattern.Ref === "DataBucket") return bucket;
    if ("Ref" in pattern || Object.keys(pattern).some((key) => key.startsWith("Fn::"))) {
      throw new Error(`unexpected intrinsic in the event pattern: ${JSON.stringify(pattern)}`);
    }
    return Object.fromEntries(Object.entries(pattern).map(([k, v]) => [k, resolvePattern(v, bucket)]));
  }
  return pattern;
}

/** EventBridge's wildcard: `*` matches any run of characters, `/` included; everything else is literal. */
function wildcardMatches(wildcard: string, value: string): boolean {
  const pattern = wildcard
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${pattern}$`, "s").test(value);
}

/**
 * EventBridge content matching, for exactly the features the rule uses: nested objects, arrays of exact string
 * values and `{"wildcard": …}`. Anything else fails the test rather than being matched wrongly.
 */
function matches(pattern: Json, event: Json | undefined): boolean {
  if (Array.isArray(pattern)) {
    return pattern.some((allowed) => {
      if (typeof allowed === "string") return event === allowed;
      if (isObject(allowed) && typeof allowed.wildcard === "string" && Object.keys(allowed).length === 1) {
        return typeof event === "string" && wildcardMatches(allowed.wildcard, event);
      }
      throw new Error(`pattern feature not implemented here: ${JSON.stringify(allowed)}`);
    });
  }
  if (isObject(pattern)) {
    if (!isObject(event)) return false;
    return Object.entries(pattern).every(([key, sub]) => matches(sub, event[key]));
  }
  throw new Error(`pattern feature not implemented here: ${JSON.stringify(pattern)}`);
}

/**
 * An InputTransformer: each InputPathsMap entry is a plain `$.a.b` path; the template's `<name>` placeholders,
 * outside quotes, become the value as JSON (EventBridge quotes and escapes a string value there).
 */
function transform(transformer: JsonObject, event: Json): unknown {
  const paths = transformer.InputPathsMap as Record<string, string>;
  const values = Object.fromEntries(
    Object.entries(paths).map(([name, path]) => {
      expect(path).toMatch(/^\$(\.[A-Za-z0-9_-]+)+$/);
      let value: Json | undefined = event;
      for (const key of path.slice(2).split(".")) value = isObject(value) ? value[key] : undefined;
      return [name, value];
    }),
  );
  const text = String(transformer.InputTemplate);
  expect(text, "placeholders inside quotes would not be escaped").not.toMatch(/"<[^>]+>"/);
  return JSON.parse(
    text.replace(/<([A-Za-z0-9_-]+)>/g, (_whole, name: string) => JSON.stringify(values[name] ?? null)),
  );
}

function withKey(event: JsonObject, key: string, changes: JsonObject = {}): JsonObject {
  const detail = event.detail as JsonObject;
  return {
    ...event,
    ...changes,
    detail: { ...detail, object: { ...(detail.object as JsonObject), key } },
  };
}

describe("template.yaml: runs started by objects under landing/", () => {
  const example = readEvent("eventbridge-s3-object-created.json");
  const bucket = String(((example.detail as JsonObject).bucket as JsonObject).name);
  const pattern = resolvePattern(ruleProperties.EventPattern as Json, bucket);

  it("has the bucket send its object events to EventBridge", () => {
    const bucketProperties = resources.DataBucket?.Properties as JsonObject;
    expect(bucketProperties.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
  });

  it("matches the example event and turns it into events/ingest-object.json, an ingest event", () => {
    expect(ruleName).not.toBe("");
    expect(matches(pattern, example)).toBe(true);
    const input = transform(target?.InputTransformer as JsonObject, example);
    expect(input).toEqual(readEvent("ingest-object.json"));
    expect(ingestEventSchema.safeParse(input).success).toBe(true);
    expect(parseIngestEvent(input)).toEqual({ link: input });
  });

  it.each([
    ["landing/VIA_SUL.csv", true],
    ["landing/Via_Sul/2024/11.csv.gz", true],
    ["landing/Via_Sul/ACIDENTES.CSV", true],
    ["landing/Via_Sul/readme.txt", false],
    ["landing/Via_Sul/x.csv.bak", false],
    ["raw/Via_Sul/x.csv", false],
    ["clean/Via_Sul/x.csv", false],
    ["config/link.yml", false],
    ["xlanding/x.csv", false],
  ])("on %s: starts a run = %s", (key, started) => {
    expect(matches(pattern, withKey(example, key))).toBe(started);
  });

  it("ignores other buckets, other event types and other sources", () => {
    const detail = example.detail as JsonObject;
    expect(matches(pattern, { ...example, detail: { ...detail, bucket: { name: "another-bucket" } } })).toBe(
      false,
    );
    expect(matches(pattern, { ...example, "detail-type": "Object Deleted" })).toBe(false);
    expect(matches(pattern, { ...example, source: "custom.s3" })).toBe(false);
  });

  it("keeps a key with quotes or backslashes one intact JSON string", () => {
    const key = 'landing/a"b\\c}.csv';
    const input = transform(target?.InputTransformer as JsonObject, withKey(example, key)) as JsonObject;
    expect(input).toEqual({ object: { bucket, key } });
  });

  it("targets the state machine through a role that may only start it", () => {
    expect(target?.Arn).toEqual({ Ref: "PipelineStateMachine" });
    const roleName = (((target as JsonObject).RoleArn as JsonObject)["Fn::GetAtt"] as string[])[0] as string;
    const role = resources[roleName] as JsonObject;
    expect(role.Type).toBe("AWS::IAM::Role");
    const properties = role.Properties as JsonObject;
    const trust = (properties.AssumeRolePolicyDocument as JsonObject).Statement as JsonObject[];
    expect(trust).toHaveLength(1);
    expect(trust[0]).toMatchObject({
      Effect: "Allow",
      Principal: { Service: "events.amazonaws.com" },
      Action: "sts:AssumeRole",
    });
    const statements = (properties.Policies as JsonObject[]).flatMap(
      (policy) => (policy.PolicyDocument as JsonObject).Statement as JsonObject[],
    );
    expect(statements.map(({ Effect, Action, Resource }) => ({ Effect, Action, Resource }))).toEqual([
      { Effect: "Allow", Action: ["states:StartExecution"], Resource: { Ref: "PipelineStateMachine" } },
    ]);
    expect(properties.ManagedPolicyArns).toBeUndefined();
  });

  it("lets ingest read objects only under landing/ (and the links file under config/), and write none there", () => {
    const policies = ((resources.IngestFunction as JsonObject).Properties as JsonObject)
      .Policies as JsonObject[];
    const statements = policies.flatMap((policy) => (policy.Statement ?? []) as JsonObject[]);
    const on = (action: string) =>
      statements
        .filter((statement) => ([] as Json[]).concat(statement.Action ?? []).includes(action))
        .flatMap((statement) => ([] as Json[]).concat(statement.Resource ?? []))
        .map((resource) => subString(resource) ?? JSON.stringify(resource));
    expect(on("s3:GetObject")).toContain("${DataBucket.Arn}/landing/*");
    expect(on("s3:GetObject").filter((r) => !/\/(config|landing|state)\/\*$/.test(r))).toEqual([]);
    expect(on("s3:PutObject").filter((r) => r.includes("/landing/"))).toEqual([]);
  });
});
