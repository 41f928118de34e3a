import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { isObject, type Json, type JsonObject, loadCloudFormation } from "../infra/cloudformation.js";

/**
 * The IAM policies template.yaml gives each function's role, as IAM will hold them: after the SAM transform (which
 * turns a function's `Policies` into its generated role's inline policies), with every intrinsic function resolved
 * for a test bucket. The S3 front (strict-s3.ts) evaluates requests against them.
 */

export type FunctionName = "IngestFunction" | "DeathsFunction" | "ApiFunction" | "MigrateFunction";

export const ACCOUNT_ID = "123456789012";
const REGION = "us-east-1";

export interface IamPolicy {
  Version?: string;
  Statement: JsonObject[];
}

export interface FunctionRole {
  function: FunctionName;
  /** The session ARN a Lambda function's requests are made as. */
  principal: string;
  identityPolicies: Array<{ name: string; policy: IamPolicy }>;
  /** The data bucket's own policy (DataBucketPolicy), which applies to every caller. */
  bucketPolicy: IamPolicy;
}

export interface RoleOptions {
  bucket: string;
  /** Statements (by Sid) to leave out of the role, to show what the role would do without them. */
  withoutStatements?: string[];
  /** Where the template comes from: the SAM transform's output (the default) or the source template as written. */
  from?: "transform" | "source";
}

const root = resolve(import.meta.dirname, "../..");
const templatePath = join(root, "template.yaml");
const transformScript = join(root, "tests/infra/sam-transform.py");

export function functionRole(name: FunctionName, options: RoleOptions): FunctionRole {
  const source = options.from ?? (samTranslatorAvailable() ? "transform" : "source");
  const raw = source === "transform" ? rolePoliciesFromTransform(name) : rolePoliciesFromSource(name);
  const sourceTemplate = loadCloudFormation(templatePath);
  const resolver = intrinsics(sourceTemplate, options.bucket);
  const dropped = new Set(options.withoutStatements ?? []);
  const identityPolicies = raw.map(({ name: policyName, policy }) => {
    const resolved = resolver(policy as Json) as unknown as IamPolicy;
    const statements = (Array.isArray(resolved.Statement) ? resolved.Statement : [resolved.Statement]).filter(
      (statement) => !dropped.has(String(statement.Sid ?? "")),
    );
    return { name: policyName, policy: { Version: "2012-10-17", Statement: statements } };
  });
  const bucketPolicyResource = (sourceTemplate.Resources as Record<string, JsonObject>).DataBucketPolicy;
  if (!bucketPolicyResource) throw new Error("template.yaml has no DataBucketPolicy");
  const bucketPolicy = resolver(
    (bucketPolicyResource.Properties as JsonObject).PolicyDocument as Json,
  ) as unknown as IamPolicy;
  return {
    function: name,
    principal: `arn:aws:sts::${ACCOUNT_ID}:assumed-role/${name}Role/${name}`,
    identityPolicies,
    bucketPolicy,
  };
}

let translator: boolean | undefined;

/** Whether Python's aws-sam-translator (what CloudFormation runs for `Transform: AWS::Serverless`) is here. */
export function samTranslatorAvailable(): boolean {
  if (translator === undefined) {
    try {
      execFileSync("python3", ["-c", "import samtranslator"], { stdio: "ignore" });
      translator = true;
    } catch {
      translator = false;
    }
  }
  return translator;
}

/** The function's generated role's inline policies, from the transformed template (cached by content). */
function rolePoliciesFromTransform(name: FunctionName): Array<{ name: string; policy: Json }> {
  const hash = createHash("sha256")
    .update(readFileSync(templatePath))
    .update(readFileSync(transformScript))
    .digest("hex")
    .slice(0, 16);
  const cache = join(tmpdir(), `roadtoll-sam-transform-${hash}.json`);
  let text: string;
  if (existsSync(cache)) text = readFileSync(cache, "utf8");
  else {
    text = execFileSync("python3", [transformScript, templatePath], {
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    writeFileSync(cache, text);
  }
  const transformed = JSON.parse(text) as JsonObject;
  const role = (transformed.Resources as Record<string, JsonObject>)[`${name}Role`];
  if (!role) throw new Error(`the transformed template has no ${name}Role`);
  const policies = ((role.Properties as JsonObject).Policies ?? []) as JsonObject[];
  return policies.map((policy) => ({
    name: String(policy.PolicyName),
    policy: policy.PolicyDocument as Json,
  }));
}

/**
 * The same policies read from the source template: SAM copies each inline `Statement` policy of a function's
 * `Policies` into the role as written (tests/strict-s3.test.ts checks the two agree). Used where the translator is
 * not installed, outside CI.
 */
function rolePoliciesFromSource(name: FunctionName): Array<{ name: string; policy: Json }> {
  const template = loadCloudFormation(templatePath);
  const fn = (template.Resources as Record<string, JsonObject>)[name];
  if (!fn) throw new Error(`template.yaml has no ${name}`);
  const policies = ((fn.Properties as JsonObject).Policies ?? []) as Json[];
  return policies.map((policy, index) => {
    if (!isObject(policy) || !("Statement" in policy)) {
      throw new Error(
        `${name}'s policy ${index} is not an inline statement policy: only the SAM transform reads it`,
      );
    }
    return { name: `${name}RolePolicy${index}`, policy };
  });
}

/** Resolves Ref, Fn::GetAtt, Fn::Sub, Fn::If (conditions on parameter defaults), Fn::Join and AWS::NoValue. */
function intrinsics(template: JsonObject, bucket: string): (node: Json) => Json {
  const parameters = (template.Parameters ?? {}) as Record<string, JsonObject>;
  const conditions = (template.Conditions ?? {}) as Record<string, Json>;
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const NO_VALUE = Symbol("NoValue");
  const pseudo: Record<string, string> = {
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::StackName": "roadtoll-test",
    "AWS::URLSuffix": "amazonaws.com",
  };
  const ref = (name: string): string => {
    if (name in pseudo) return pseudo[name] as string;
    if (name === "DataBucket") return bucket;
    const parameter = parameters[name];
    if (parameter) {
      const value = parameter.Default ?? "";
      return Array.isArray(value) ? value.join(",") : String(value);
    }
    return `arn:aws:test:${REGION}:${ACCOUNT_ID}:${name}`;
  };
  const getAtt = (resource: string, attribute: string): string =>
    resource === "DataBucket" && attribute === "Arn"
      ? bucketArn
      : `arn:aws:test:${REGION}:${ACCOUNT_ID}:${resource}.${attribute}`;
  const condition = (name: string): boolean => truthy(conditions[name] as Json);
  const truthy = (node: Json): boolean => {
    if (!isObject(node)) return node === true || node === "true";
    if ("Condition" in node) return condition(String(node.Condition));
    const [[fn, args]] = Object.entries(node) as [[string, Json[]]];
    if (fn === "Fn::Equals") return String(value(args[0] as Json)) === String(value(args[1] as Json));
    if (fn === "Fn::Not") return !truthy(args[0] as Json);
    if (fn === "Fn::And") return args.every(truthy);
    if (fn === "Fn::Or") return args.some(truthy);
    throw new Error(`cannot evaluate condition ${fn}`);
  };
  const sub = (text: string, variables: Record<string, Json>): string =>
    text.replace(/\$\{(!?)([^}]+)\}/g, (_whole, literal: string, name: string) => {
      if (literal) return `\${${name}}`;
      if (name in variables) return String(value(variables[name] as Json));
      const dot = name.indexOf(".");
      return dot < 0 ? ref(name) : getAtt(name.slice(0, dot), name.slice(dot + 1));
    });
  const value = (node: Json): Json | typeof NO_VALUE => {
    if (Array.isArray(node)) return node.map(value).filter((item): item is Json => item !== NO_VALUE);
    if (!isObject(node)) return node;
    const entries = Object.entries(node);
    if (entries.length === 1) {
      const [[key, arg]] = entries as [[string, Json]];
      if (key === "Ref") return arg === "AWS::NoValue" ? NO_VALUE : ref(String(arg));
      if (key === "Fn::GetAtt") {
        const [resource, attribute] = Array.isArray(arg) ? arg : String(arg).split(/\.(.*)/);
        return getAtt(String(resource), String(attribute));
      }
      if (key === "Fn::Sub") {
        return Array.isArray(arg)
          ? sub(String(arg[0]), (arg[1] ?? {}) as Record<string, Json>)
          : sub(String(arg), {});
      }
      if (key === "Fn::If") {
        const [name, whenTrue, whenFalse] = arg as [string, Json, Json];
        return value(condition(name) ? whenTrue : whenFalse);
      }
      if (key === "Fn::Join") {
        const [separator, items] = arg as [string, Json];
        return (value(items) as Json[]).map(String).join(separator);
      }
    }
    const out: JsonObject = {};
    for (const [key, item] of entries) {
      const resolved = value(item);
      if (resolved !== NO_VALUE) out[key] = resolved;
    }
    return out;
  };
  return (node) => {
    const resolved = value(node);
    if (resolved === NO_VALUE) throw new Error("a policy resolved to AWS::NoValue");
    return resolved;
  };
}
