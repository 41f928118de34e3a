// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${...}` are CloudFormation and ASL placeholders, not JS.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadApiConfig, loadDeathsConfig, loadDownloadConfig } from "../../src/config.js";
import { DEFAULT_DOWNLOAD_MAX_BYTES } from "../../src/defaults.js";
import { DEFAULT_MAX_REJECT_SHARE } from "../../src/pipeline/reject-gate.js";
import {
  bundleLikeDockerfile,
  DOCKERFILE,
  dockerfileBundleCommand,
  dockerfileFinalStage,
  shellWords,
} from "./bundle.js";
import {
  isObject,
  type Json,
  type JsonObject,
  loadCloudFormation,
  subReferences,
  subString,
  walk,
} from "./cloudformation.js";

const root = resolve(import.meta.dirname, "../..");
const template = loadCloudFormation(join(root, "template.yaml"));
const resources = template.Resources as Record<string, JsonObject>;
const parameters = (template.Parameters ?? {}) as Record<string, JsonObject>;
const conditions = (template.Conditions ?? {}) as Record<string, Json>;
const outputs = (template.Outputs ?? {}) as Record<string, JsonObject>;
const globalsFunction = ((template.Globals as JsonObject | undefined)?.Function ?? {}) as JsonObject;

const PSEUDO_PARAMETERS = new Set([
  "AWS::AccountId",
  "AWS::NotificationARNs",
  "AWS::NoValue",
  "AWS::Partition",
  "AWS::Region",
  "AWS::StackId",
  "AWS::StackName",
  "AWS::URLSuffix",
]);
function resource(name: string): JsonObject {
  const found = resources[name];
  if (!found) throw new Error(`template.yaml has no resource ${name}`);
  return found;
}

function propertiesOf(name: string): JsonObject {
  return (resource(name).Properties ?? {}) as JsonObject;
}

function dockerfileOf(name: string): string {
  return readFileSync(join(root, String((resource(name).Metadata as JsonObject).Dockerfile)), "utf8");
}

const functions = Object.entries(resources).filter(([, r]) => r.Type === "AWS::Serverless::Function");
const functionNames = functions.map(([name]) => name);

function str(value: Json | undefined): string {
  return JSON.stringify(value);
}

/** An IAM Resource or env value in comparable text: intrinsics as `${Name}`, both branches of an Fn::If. */
function flatten(value: Json | undefined): string[] {
  if (value === undefined) return [];
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(flatten);
  if (isObject(value)) {
    const sub = subString(value);
    if (sub !== undefined) return [sub];
    // AWS::NoValue means "no value here": nothing to list.
    if ("Ref" in value) return value.Ref === "AWS::NoValue" ? [] : [`\${${value.Ref}}`];
    if ("Fn::GetAtt" in value) return [`\${${(value["Fn::GetAtt"] as string[]).join(".")}}`];
    if ("Fn::If" in value) return (value["Fn::If"] as Json[]).slice(1).flatMap(flatten);
  }
  return [str(value)];
}

interface Statement {
  Effect: string;
  Action: string[];
  Resource: string[];
}

function inlineStatements(policies: Json | undefined): Statement[] {
  if (!Array.isArray(policies)) return [];
  return policies
    .filter(isObject)
    .flatMap((policy) => (Array.isArray(policy.Statement) ? policy.Statement : []))
    .filter(isObject)
    .map((statement) => ({
      Effect: String(statement.Effect),
      Action: ([] as Json[]).concat(statement.Action ?? []).map(String),
      Resource: flatten(statement.Resource),
    }));
}

/** action → every resource it is allowed on, across a function's inline statements. */
function grants(functionName: string): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  const properties = propertiesOf(functionName);
  for (const statement of inlineStatements(properties.Policies)) {
    if (statement.Effect !== "Allow") continue;
    for (const action of statement.Action) {
      const set = result.get(action) ?? new Set<string>();
      for (const resource of statement.Resource) set.add(resource);
      result.set(action, set);
    }
  }
  return result;
}

function readAsl(): { text: string; definition: JsonObject } {
  const [name] = Object.entries(resources).find(([, r]) => r.Type === "AWS::Serverless::StateMachine") ?? [];
  const uri = propertiesOf(String(name)).DefinitionUri as string;
  const text = readFileSync(join(root, uri), "utf8");
  return { text, definition: JSON.parse(text) as JsonObject };
}

/** Every state, including those nested in Map item processors and Parallel branches. */
function* states(machine: JsonObject): Generator<[string, JsonObject]> {
  for (const [name, state] of Object.entries((machine.States ?? {}) as Record<string, JsonObject>)) {
    yield [name, state];
    for (const nested of [state.ItemProcessor, state.Iterator]) if (isObject(nested)) yield* states(nested);
    for (const branch of (state.Branches ?? []) as JsonObject[]) yield* states(branch);
  }
}

/** Splits a Dockerfile RUN line the way /bin/sh would for the quoting it uses (no expansions). */

describe("template.yaml: structure", () => {
  it("is a SAM template", () => {
    expect(template.AWSTemplateFormatVersion).toBe("2010-09-09");
    expect(template.Transform).toBe("AWS::Serverless-2016-10-31");
  });

  it("only references parameters, resources and pseudo parameters that exist", () => {
    const problems: string[] = [];
    const known = (name: string) => name in parameters || name in resources || PSEUDO_PARAMETERS.has(name);
    // Whether the attribute exists on that type is cfn-lint's check (E1010, tests/infra/aws-validators.test.ts).
    const checkAttribute = (resource: string, where: string) => {
      if (!resources[resource]) problems.push(`${where}: GetAtt of unknown resource ${resource}`);
    };
    for (const section of ["Resources", "Outputs", "Conditions", "Rules", "Globals"]) {
      for (const { value, path } of walk(template[section] ?? {}, [section])) {
        if (!isObject(value)) continue;
        const where = path.join(".");
        if (typeof value.Ref === "string" && !known(value.Ref))
          problems.push(`${where}: Ref to unknown ${value.Ref}`);
        const getAtt = value["Fn::GetAtt"];
        if (Array.isArray(getAtt)) checkAttribute(String(getAtt[0]), where);
        const sub = subString(value);
        if (sub === undefined) continue;
        const local =
          Array.isArray(value["Fn::Sub"]) && isObject(value["Fn::Sub"][1]) ? value["Fn::Sub"][1] : {};
        for (const reference of subReferences(sub)) {
          if (reference in local || known(reference)) continue;
          const dot = reference.indexOf(".");
          if (dot > 0 && reference.slice(0, dot) in resources) {
            checkAttribute(reference.slice(0, dot), where);
          } else {
            problems.push(`${where}: Fn::Sub references unknown \${${reference}}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("defines every condition it uses and uses every condition and parameter it defines", () => {
    const usedConditions = new Set<string>();
    const usedNames = new Set<string>();
    for (const { value, path } of walk(template as Json)) {
      if (!isObject(value)) continue;
      if (typeof value.Condition === "string" && path.at(-1) !== "Properties")
        usedConditions.add(value.Condition);
      const ifArgs = value["Fn::If"];
      if (Array.isArray(ifArgs)) usedConditions.add(String(ifArgs[0]));
      if (typeof value.Ref === "string") usedNames.add(value.Ref);
      const sub = subString(value);
      if (sub) for (const reference of subReferences(sub)) usedNames.add(reference.split(".")[0] as string);
    }
    expect([...usedConditions].filter((name) => !(name in conditions))).toEqual([]);
    expect(Object.keys(conditions).filter((name) => !usedConditions.has(name))).toEqual([]);
    expect(Object.keys(parameters).filter((name) => !usedNames.has(name))).toEqual([]);
  });

  it("references a conditional resource only where its condition is known to hold", () => {
    const problems: string[] = [];
    const conditionOf = (name: string) => resources[name]?.Condition as string | undefined;
    const visit = (node: Json, holding: Set<string>, where: string) => {
      const require = (name: string) => {
        const condition = conditionOf(name);
        if (condition && !holding.has(condition))
          problems.push(`${where}: ${name} exists only if ${condition}`);
      };
      if (Array.isArray(node)) {
        for (const item of node) visit(item, holding, where);
        return;
      }
      if (!isObject(node)) return;
      const ifArgs = node["Fn::If"];
      if (Array.isArray(ifArgs)) {
        const [condition, whenTrue, whenFalse] = ifArgs as [string, Json, Json];
        visit(whenTrue, new Set([...holding, condition]), where);
        visit(whenFalse, holding, where);
        return;
      }
      if (typeof node.Ref === "string") require(node.Ref);
      const getAtt = node["Fn::GetAtt"];
      if (Array.isArray(getAtt)) require(String(getAtt[0]));
      const sub = subString(node);
      if (sub) for (const reference of subReferences(sub)) require(reference.split(".")[0] as string);
      for (const child of Object.values(node)) visit(child, holding, where);
    };
    for (const [name, resource] of Object.entries(resources)) {
      const holding = new Set(resource.Condition ? [String(resource.Condition)] : []);
      visit(resource.Properties ?? {}, holding, name);
      for (const dependency of ([] as Json[]).concat(resource.DependsOn ?? [])) {
        const condition = conditionOf(String(dependency));
        if (condition && !holding.has(condition))
          problems.push(`${name}: DependsOn ${dependency} (only if ${condition})`);
      }
    }
    for (const [name, output] of Object.entries(outputs)) {
      visit(
        output.Value ?? null,
        new Set(output.Condition ? [String(output.Condition)] : []),
        `Outputs.${name}`,
      );
    }
    expect(problems).toEqual([]);
  });
});

describe("template.yaml: functions and images", () => {
  const bundleDir = mkdtempSync(join(tmpdir(), "roadtoll-bundle-"));
  afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

  it("declares the four functions of the contract", () => {
    expect(functionNames.sort()).toEqual([
      "ApiFunction",
      "DeathsFunction",
      "IngestFunction",
      "MigrateFunction",
    ]);
  });

  it.each(functionNames)("%s is an x86_64 image built from the one Dockerfile, for itself", (name) => {
    const resource = resources[name] as JsonObject;
    const properties = resource.Properties as JsonObject;
    const metadata = resource.Metadata as JsonObject;
    expect(properties.PackageType).toBe("Image");
    expect(properties.Architectures ?? globalsFunction.Architectures).toEqual(["x86_64"]);
    expect(properties.Timeout).toBeTypeOf("number");
    expect(properties.MemorySize).toBeTypeOf("number");
    expect(metadata.DockerContext).toBe(".");
    expect(metadata.DockerTag).toBeTypeOf("string");
    expect(metadata.Dockerfile).toBe(DOCKERFILE);
    expect(existsSync(join(root, DOCKERFILE))).toBe(true);
    expect(metadata.DockerBuildArgs).toEqual({ FUNCTION: name.replace(/Function$/, "").toLowerCase() });
  });

  it.each(functionNames)("%s: the Dockerfile bundles its own entry point with the shared script", (name) => {
    const dockerfile = dockerfileOf(name);
    const fn = name.replace(/Function$/, "").toLowerCase();
    expect(dockerfileBundleCommand(fn)).toEqual(["node", "scripts/bundle-lambda.ts", fn]);
    expect(existsSync(join(root, `src/lambda/${fn}.ts`)), `src/lambda/${fn}.ts exists`).toBe(true);
    expect(dockerfile).toContain("COPY scripts/bundle-lambda.ts ./scripts/");

    // The final stage: the Lambda base image, only the bundle and link.yml (which ingest reads), the ESM handler.
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    expect(finalStage).toMatch(/^\nFROM \$\{LAMBDA_IMAGE\}\nARG FUNCTION\n/);
    expect(dockerfileFinalStage(fn).fromBuild).toEqual(["index.mjs", "index.mjs.map"]);
    expect(finalStage).toMatch(/\nCMD \["index\.handler"\]\n?$/);
    expect(finalStage).toContain("COPY link.yml ${LAMBDA_TASK_ROOT}/");
    expect(existsSync(join(root, "link.yml"))).toBe(true);

    // Re-run the same command into a scratch directory, with a metafile to see what stayed external.
    const outfile = bundleLikeDockerfile(fn, bundleDir, { metafile: true });
    const metafile = `${outfile}.meta.json`;
    const bundle = readFileSync(outfile, "utf8");
    expect(bundle.startsWith("import { createRequire } from 'node:module';")).toBe(true);
    const meta = JSON.parse(readFileSync(metafile, "utf8")) as {
      inputs: Record<string, unknown>;
      outputs: Record<string, { imports: { path: string; kind: string; external?: boolean }[] }>;
    };
    const imports = Object.values(meta.outputs).flatMap((output) => output.imports);
    const embeddedOnly = ["@electric-sql/pglite"];
    // The image has no node_modules: an embedded-database package may only be reached lazily, never at load.
    expect(
      imports.filter(
        (i) => embeddedOnly.some((pkg) => i.path.startsWith(pkg)) && i.kind !== "dynamic-import",
      ),
    ).toEqual([]);
    const unexpected = imports.filter(
      (i) =>
        i.external &&
        !i.path.startsWith("node:") &&
        ![...embeddedOnly, "pg-native"].some((p) => i.path.startsWith(p)),
    );
    // Bare builtins ("fs", "crypto") are fine; anything else would be missing from the image.
    expect(unexpected.filter((i) => !require("node:module").isBuiltin(i.path))).toEqual([]);
    if (fn === "migrate") {
      // The migrations are modules imported by src/db/migrations/index.ts, so they must be inside the bundle.
      expect(Object.keys(meta.inputs).some((input) => input.startsWith("src/db/migrations/0"))).toBe(true);
    }
  });

  it("keeps everything the Dockerfiles COPY from the build context in .dockerignore's allow-list", () => {
    const ignore = readFileSync(join(root, ".dockerignore"), "utf8").split("\n");
    expect(ignore).toContain("*");
    for (const name of functionNames) {
      const dockerfile = dockerfileOf(name);
      for (const line of dockerfile
        .split("\n")
        .filter((l) => l.startsWith("COPY ") && !l.includes("--from="))) {
        const sources = shellWords(line).slice(1, -1);
        for (const source of sources) {
          const path = source.replace(/^\.\//, "").replace(/\/$/, "");
          expect(
            ignore.some((entry) => entry === `!${path}` || entry === `!${path}/`),
            `${name}: ${path}`,
          ).toBe(true);
        }
      }
    }
  });

  it("keeps the ingest and API functions out of the VPC and the database functions inside it", () => {
    const props = (name: string) => resources[name]?.Properties as JsonObject;
    expect(props("IngestFunction").VpcConfig).toBeUndefined();
    expect(props("ApiFunction").VpcConfig).toBeUndefined();
    expect(globalsFunction.VpcConfig).toBeUndefined();
    for (const name of ["DeathsFunction", "MigrateFunction"]) {
      const vpc = props(name).VpcConfig as JsonObject;
      expect(flatten(vpc.SubnetIds)).toEqual([
        "${PrivateSubnetA}",
        "${PrivateSubnetB}",
        "${ExistingSubnetIds}",
      ]);
      expect(flatten(vpc.SecurityGroupIds)).toEqual([
        "${FunctionSecurityGroup}",
        "${ExistingSecurityGroupIds}",
      ]);
    }
  });
});

describe("template.yaml: state machine", () => {
  const machineEntry = Object.entries(resources).find(([, r]) => r.Type === "AWS::Serverless::StateMachine");
  const machine = machineEntry?.[1].Properties as JsonObject;
  const substitutions = machine.DefinitionSubstitutions as Record<string, Json>;
  const { text, definition } = readAsl();

  it("substitutes exactly the placeholders the ASL uses", () => {
    const placeholders = new Set([...text.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1]));
    expect([...placeholders].sort()).toEqual(Object.keys(substitutions).sort());
    expect(Object.keys(substitutions).sort()).toEqual(["DeathsFunctionArn", "IngestFunctionArn"]);
  });

  it("maps every substitution to a function ARN", () => {
    for (const [placeholder, value] of Object.entries(substitutions)) {
      const [fn, attribute] = (value as { "Fn::GetAtt": string[] })["Fn::GetAtt"] ?? [];
      expect(functionNames, placeholder).toContain(fn);
      expect(attribute).toBe("Arn");
      expect(placeholder).toBe(`${fn}Arn`);
    }
  });

  it("points every Task at a function, with a Lambda timeout below the task's", () => {
    const expected: Record<string, string> = {
      ListLinks: "IngestFunction",
      Ingest: "IngestFunction",
      ComputeDeaths: "DeathsFunction",
      // Once per execution, after every link: the deaths function rebuilds curated/ from the database.
      PublishCurated: "DeathsFunction",
    };
    const tasks = [...states(definition)].filter(([, state]) => state.Type === "Task");
    expect(tasks.map(([name]) => name).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, state] of tasks) {
      const placeholder = String(state.Resource).match(/^\$\{(\w+)\}$/)?.[1];
      expect(placeholder, `${name} uses a plain Lambda ARN placeholder`).toBeDefined();
      const fn = (
        (substitutions[placeholder as string] as JsonObject)["Fn::GetAtt"] as string[]
      )[0] as string;
      expect(fn).toBe(expected[name]);
      const lambdaTimeout = propertiesOf(fn).Timeout as number;
      if (typeof state.TimeoutSeconds === "number") expect(lambdaTimeout).toBeLessThan(state.TimeoutSeconds);
    }
  });

  it("grants the state machine invoke on exactly the functions it calls", () => {
    const invoked = (machine.Policies as JsonObject[])
      .filter((policy) => "LambdaInvokePolicy" in policy)
      .map((policy) => flatten((policy.LambdaInvokePolicy as JsonObject).FunctionName));
    expect(invoked.flat().sort()).toEqual(["${DeathsFunction}", "${IngestFunction}"]);
  });

  it("logs executions with their data to a log group, and traces them", () => {
    const logging = machine.Logging as JsonObject;
    expect(["ALL", "ERROR"]).toContain(
      (parameters[(logging.Level as JsonObject).Ref as string] as JsonObject).Default,
    );
    expect(logging.IncludeExecutionData).toBe(true);
    const [destination] = logging.Destinations as JsonObject[];
    const arn = ((destination as JsonObject).CloudWatchLogsLogGroup as JsonObject).LogGroupArn as JsonObject;
    expect(resources[(arn["Fn::GetAtt"] as string[])[0] as string]?.Type).toBe("AWS::Logs::LogGroup");
    expect(machine.Tracing).toEqual({ Enabled: true });
  });

  it("alarms on failed executions through SNS, e-mail optional", () => {
    const alarm = Object.values(resources).find(
      (r) =>
        r.Type === "AWS::CloudWatch::Alarm" && (r.Properties as JsonObject).MetricName === "ExecutionsFailed",
    )?.Properties as JsonObject;
    expect(alarm.Namespace).toBe("AWS/States");
    expect(flatten((alarm.Dimensions as JsonObject[])[0]?.Value)).toEqual([`\${${machineEntry?.[0]}}`]);
    const topic = flatten(alarm.AlarmActions)[0]?.slice(2, -1) as string;
    expect(resources[topic]?.Type).toBe("AWS::SNS::Topic");
    const subscription = Object.values(resources).find((r) => r.Type === "AWS::SNS::Subscription");
    expect(subscription?.Condition).toBe("HasAlarmEmail");
  });
});

describe("template.yaml: least privilege and secrets", () => {
  const bucketArn = "${DataBucket.Arn}";
  const adminSecret = ["${Database.MasterUserSecret.SecretArn}", "${ExistingDatabaseSecretArn}"];
  const appSecret = ["${AppDatabaseSecret}"];

  it("lets ingest only write raw/ and clean/, and read config/ (the links file)", () => {
    const ingest = grants("IngestFunction");
    expect([...(ingest.get("s3:AbortMultipartUpload") ?? [])].sort()).toEqual([
      `${bucketArn}/clean/*`,
      `${bucketArn}/raw/*`,
    ]);
    // Plus the run index, a small PutObject per execution and source (src/pipeline/run-index.ts).
    expect([...(ingest.get("s3:PutObject") ?? [])].sort()).toEqual([
      `${bucketArn}/clean/*`,
      `${bucketArn}/raw/*`,
      `${bucketArn}/run-index/*`,
    ]);
    expect([...(ingest.get("s3:GetObject") ?? [])]).toContain(`${bucketArn}/config/*`);
    expect(
      [...(ingest.get("s3:GetObject") ?? [])].filter((r) => !/\/(config|landing|state)\/\*$/.test(r)),
    ).toEqual([]);
    // So that a missing state/ or config/ object reads as missing (404), not refused (403): tests/first-deployment.
    expect([...(ingest.get("s3:ListBucket") ?? [])]).toEqual([bucketArn]);
    expect([...ingest.keys()].sort()).toEqual([
      "s3:AbortMultipartUpload",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:PutObject",
    ]);
  });

  it("runs every configured link on a schedule, named per stack, that can be disabled", () => {
    const machine = Object.values(resources).find((r) => r.Type === "AWS::Serverless::StateMachine")
      ?.Properties as JsonObject;
    const events = Object.values(machine.Events as Record<string, JsonObject>);
    const schedule = events.find((event) => event.Type === "ScheduleV2")?.Properties as JsonObject;
    expect(JSON.parse(schedule.Input as string)).toEqual({ all: true });
    expect(flatten(schedule.ScheduleExpression)).toEqual(["${RefreshSchedule}"]);
    expect(flatten(schedule.State)).toEqual(["${RefreshScheduleState}"]);
    expect(flatten(schedule.Name)).toEqual(["${AWS::StackName}-refresh"]);
    expect((parameters.RefreshScheduleState as JsonObject).AllowedValues).toEqual(["ENABLED", "DISABLED"]);
    expect(String((parameters.RefreshSchedule as JsonObject).Default)).toMatch(
      /^cron\(0 \d+ \d+ \* \? \*\)$/,
    );
  });

  it("lets deaths read clean/ and rejects/, write rejects/, runs/, state/ and curated/ (and delete there), and read the app user's secret, not the administrator's", () => {
    const deaths = grants("DeathsFunction");
    // rejects/: the curated report's reasons (PublishCurated); tests/infra/analytics.test.ts checks those two.
    expect([...(deaths.get("s3:GetObject") ?? [])].sort()).toEqual([
      `${bucketArn}/clean/*`,
      `${bucketArn}/rejects/*`,
    ]);
    expect([...(deaths.get("s3:PutObject") ?? [])].sort()).toEqual([
      `${bucketArn}/curated/*`,
      `${bucketArn}/rejects/*`,
      `${bucketArn}/runs/*`,
      `${bucketArn}/state/*`,
    ]);
    expect([...(deaths.get("s3:AbortMultipartUpload") ?? [])].sort()).toEqual([
      `${bucketArn}/curated/*`,
      `${bucketArn}/rejects/*`,
    ]);
    expect([...(deaths.get("s3:DeleteObject") ?? [])]).toEqual([`${bucketArn}/curated/*`]);
    expect([...(deaths.get("secretsmanager:GetSecretValue") ?? [])]).toEqual(appSecret);
    // So that a rejects object the lifecycle rule expired reads as missing (404), not refused (403).
    expect([...(deaths.get("s3:ListBucket") ?? [])]).toEqual([bucketArn]);
    expect(deaths.size).toBe(6);
  });

  it("lets migrate read the administrator's and the app user's secrets, and nothing else", () => {
    const migrate = grants("MigrateFunction");
    expect([...migrate.keys()]).toEqual(["secretsmanager:GetSecretValue"]);
    expect([...(migrate.get("secretsmanager:GetSecretValue") ?? [])]).toEqual([...adminSecret, ...appSecret]);
  });

  it("hands the database functions the secrets their policies allow: migrate as admin, deaths as the app user", () => {
    const env = (name: string) => (propertiesOf(name).Environment as JsonObject).Variables as JsonObject;
    expect(flatten(env("MigrateFunction").DATABASE_SECRET_ARN)).toEqual(adminSecret);
    expect(flatten(env("MigrateFunction").DATABASE_APP_SECRET_ARN)).toEqual(appSecret);
    expect(flatten(env("DeathsFunction").DATABASE_SECRET_ARN)).toEqual(appSecret);
    for (const name of ["DeathsFunction", "MigrateFunction"]) {
      expect(flatten(env(name).DATABASE_HOST)).toEqual([
        "${Database.Endpoint.Address}",
        "${ExistingDatabaseHost}",
      ]);
    }
  });

  it("generates the app user's password in Secrets Manager, for the user the migration's role expects", () => {
    const secret = resources.AppDatabaseSecret as JsonObject;
    expect(secret.Type).toBe("AWS::SecretsManager::Secret");
    const generate = (secret.Properties as JsonObject).GenerateSecretString as JsonObject;
    expect(JSON.parse(generate.SecretStringTemplate as string)).toEqual({ username: "roadtoll_app" });
    expect(generate.GenerateStringKey).toBe("password");
    expect(generate.PasswordLength).toBeGreaterThanOrEqual(32);
  });

  it("never allows wildcard actions", () => {
    for (const { value, path } of walk(resources as Json)) {
      if (!isObject(value) || value.Effect !== "Allow") continue;
      const actions = ([] as Json[]).concat(value.Action ?? []).map(String);
      expect(
        actions.filter((a) => a === "*" || a.endsWith(":*")),
        path.join("."),
      ).toEqual([]);
    }
  });

  it("contains no password: RDS manages it in Secrets Manager", () => {
    const database = resources.Database?.Properties as JsonObject;
    expect(database.ManageMasterUserPassword).toBe(true);
    for (const { value, path } of walk(template as Json)) {
      const where = path.join(".");
      expect(path.at(-1) ?? "", where).not.toMatch(
        /^(MasterUserPassword|Password|DB_PASSWORD|DATABASE_PASSWORD)$/i,
      );
      if (typeof value === "string") {
        // A credential embedded in a URL (scheme://user:secret@host) or a dynamic reference to a plain secret.
        expect(value, where).not.toMatch(/:\/\/[^/\s:@]+:[^/\s@]+@/);
        expect(value, where).not.toMatch(/\{\{resolve:(ssm|secretsmanager)/);
      }
    }
    expect(Object.keys(parameters).filter((name) => /password/i.test(name))).toEqual([]);
  });

  it("encrypts the database and keeps it private, with a final snapshot", () => {
    const db = resources.Database as JsonObject;
    const props = db.Properties as JsonObject;
    expect(props.StorageEncrypted).toBe(true);
    expect(props.PubliclyAccessible).toBe(false);
    expect(props.StorageType).toBe("gp3");
    expect(props.DeletionProtection).toEqual({ Ref: "DeletionProtection" });
    expect(db.DeletionPolicy).toBe("Snapshot");
    expect(db.Condition).toBe("CreateDatabase");
  });

  it("encrypts the bucket, blocks public access and denies plain HTTP", () => {
    const bucket = resources.DataBucket?.Properties as JsonObject;
    expect(str(bucket.BucketEncryption)).toContain("SSEAlgorithm");
    expect(Object.values(bucket.PublicAccessBlockConfiguration as JsonObject)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    const rules = (bucket.LifecycleConfiguration as JsonObject).Rules as JsonObject[];
    expect(rules.some((rule) => rule.AbortIncompleteMultipartUpload !== undefined)).toBe(true);
    expect(rules.find((rule) => rule.Prefix === "raw/")?.ExpirationInDays).toEqual({
      Ref: "RawRetentionDays",
    });
    const policy = Object.values(resources).find((r) => r.Type === "AWS::S3::BucketPolicy")
      ?.Properties as JsonObject;
    const [deny] = (policy.PolicyDocument as JsonObject).Statement as JsonObject[];
    expect(deny).toMatchObject({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } });
  });
});

describe("template.yaml: migrations and outputs", () => {
  it("runs migrations through a custom resource backed by the migrate function", () => {
    const migrations = Object.values(resources).find((r) => r.Type === "Custom::Migrations") as JsonObject;
    const properties = migrations.Properties as JsonObject;
    expect(properties.ServiceToken).toEqual({ "Fn::GetAtt": ["MigrateFunction", "Arn"] });
    expect(properties.MigrationsVersion).toEqual({ Ref: "MigrationsVersion" });
    // The function answers CloudFormation through the S3 gateway route and reads the secret through its
    // endpoint; both must exist before the first invocation and outlive the last one (on delete).
    const network = Object.entries(resources)
      .filter(([, r]) =>
        ["AWS::EC2::VPCEndpoint", "AWS::EC2::SubnetRouteTableAssociation"].includes(String(r.Type)),
      )
      .map(([name]) => `\${${name}}`);
    expect(network.length).toBeGreaterThan(0);
    expect(flatten(properties.NetworkDependencies)).toEqual(expect.arrayContaining(network));
    expect(properties.ServiceTimeout).toBeGreaterThan(propertiesOf("MigrateFunction").Timeout as number);
  });

  it("exposes the outputs the docs rely on", () => {
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining(["StateMachineArn", "BucketName", "DatabaseEndpoint", "StartExecutionCommand"]),
    );
    const command = subString(outputs.StartExecutionCommand?.Value as Json) as string;
    expect(command).toMatch(/^aws stepfunctions start-execution /);
    expect(command).toContain("--state-machine-arn ${PipelineStateMachine}");
    const input = command.match(/--input '([^']+)'$/)?.[1] as string;
    expect(JSON.parse(input)).toEqual({ links: [{ source: "Via_Bahia" }] });
  });
});

describe("template.yaml: deaths configuration", () => {
  const parameter = parameters.MaxRejectShare as JsonObject;

  it("hands the deaths function MAX_REJECT_SHARE from the MaxRejectShare parameter, default as in the code", () => {
    const env = (propertiesOf("DeathsFunction").Environment as JsonObject).Variables as JsonObject;
    expect(env.MAX_REJECT_SHARE).toEqual({ Ref: "MaxRejectShare" });
    expect(parameter.Type).toBe("String");
    const fromDefault = loadDeathsConfig({ MAX_REJECT_SHARE: String(parameter.Default) }).maxRejectShare;
    expect(fromDefault).toBe(DEFAULT_MAX_REJECT_SHARE);
  });

  it("lets through only values the function accepts at cold start, and every usual one", () => {
    const pattern = new RegExp(String(parameter.AllowedPattern));
    const accepts = (value: string) => {
      try {
        loadDeathsConfig({ MAX_REJECT_SHARE: value });
        return true;
      } catch {
        return false;
      }
    };
    for (const value of ["0", "0.", "0.05", ".5", "0.123456", "1", "1.0", "1.000"]) {
      expect(pattern.test(value), value).toBe(true);
      expect(accepts(value), value).toBe(true);
    }
    // A value CloudFormation took but the function refused would only surface as a ConfigError on the first run.
    for (const value of ["", "2", "1.5", "1.01", "-0.1", "5%", "5e-2", "0,05", " ", "abc", "Infinity"]) {
      expect(pattern.test(value), JSON.stringify(value)).toBe(false);
      expect(accepts(value), JSON.stringify(value)).toBe(false);
    }
  });
});

describe("template.yaml: download limit", () => {
  const parameter = parameters.DownloadMaxBytes as JsonObject;

  it("hands the ingest function DOWNLOAD_MAX_BYTES from DownloadMaxBytes, default as in the code", () => {
    const env = (propertiesOf("IngestFunction").Environment as JsonObject).Variables as JsonObject;
    expect(env.DOWNLOAD_MAX_BYTES).toEqual({ Ref: "DownloadMaxBytes" });
    expect(loadDownloadConfig({ DOWNLOAD_MAX_BYTES: String(parameter.Default) }).maxBytes).toBe(
      DEFAULT_DOWNLOAD_MAX_BYTES,
    );
  });

  it("lets through only values the function accepts at cold start", () => {
    const pattern = new RegExp(String(parameter.AllowedPattern));
    const accepts = (value: string) => {
      try {
        loadDownloadConfig({ DOWNLOAD_MAX_BYTES: value });
        return true;
      } catch {
        return false;
      }
    };
    for (const value of ["1", "1000", "1073741824", "999999999999999"]) {
      expect(pattern.test(value), value).toBe(true);
      expect(accepts(value), value).toBe(true);
    }
    for (const value of ["", "0", "-1", "1.5", "1e9", "1GB", "01", " "]) {
      expect(pattern.test(value), JSON.stringify(value)).toBe(false);
      expect(accepts(value), JSON.stringify(value)).toBe(false);
    }
  });
});

describe("template.yaml: link safety", () => {
  it("hands the ingest function its host allow-list and private-address switch, defaulting to public only", () => {
    const env = (propertiesOf("IngestFunction").Environment as JsonObject).Variables as JsonObject;
    expect(env.DOWNLOAD_ALLOWED_HOSTS).toEqual({ Ref: "AllowedDownloadHosts" });
    expect(env.DOWNLOAD_ALLOW_PRIVATE_HOSTS).toEqual({ Ref: "AllowPrivateDownloadHosts" });
    const config = loadDownloadConfig({
      DOWNLOAD_ALLOWED_HOSTS: String((parameters.AllowedDownloadHosts as JsonObject).Default),
      DOWNLOAD_ALLOW_PRIVATE_HOSTS: String((parameters.AllowPrivateDownloadHosts as JsonObject).Default),
    });
    expect(config).toMatchObject({ addressPolicy: "public", allowedHosts: [] });
  });
});

describe("template.yaml: HTTP API", () => {
  const api = propertiesOf("HttpApi");
  const body = api.DefinitionBody as JsonObject;
  const paths = body.paths as Record<string, Record<string, JsonObject>>;
  const routeKeys = (entries: Array<[string, string]>) =>
    entries.map(([method, path]) => `${method.toUpperCase()} ${path}`).sort();
  const apiEvents = Object.values(propertiesOf("ApiFunction").Events as Record<string, JsonObject>);
  const documented = JSON.parse(readFileSync(join(root, "docs/openapi.json"), "utf8")) as {
    paths: Record<string, Record<string, unknown>>;
  };

  it("routes every method of exactly the API's documented paths, and its OpenAPI document, to the API function (which answers 405, HEAD and OPTIONS)", () => {
    const inTemplate = routeKeys(
      Object.entries(paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((method): [string, string] => [
          method === "x-amazon-apigateway-any-method" ? "ANY" : method,
          path,
        ]),
      ),
    );
    const inDocument = routeKeys(
      [...Object.keys(documented.paths), "/openapi.json"].map((path): [string, string] => ["ANY", path]),
    );
    expect(inTemplate).toEqual(inDocument);
    expect(apiEvents.every((event) => event.Type === "HttpApi")).toBe(true);
    const events = apiEvents.map((event) => event.Properties as JsonObject);
    expect(events.every((event) => str(event.ApiId) === str({ Ref: "HttpApi" }))).toBe(true);
    expect(
      routeKeys(events.map((event): [string, string] => [String(event.Method), String(event.Path)])),
    ).toEqual(inTemplate);
  });

  it("authorizes every route with IAM (SigV4) by default, or with the issuer's JWTs when one is given", () => {
    expect(conditions.HasApiJwtIssuer).toEqual({
      "Fn::Not": [{ "Fn::Equals": [{ Ref: "ApiJwtIssuer" }, ""] }],
    });
    expect((parameters.ApiJwtIssuer as JsonObject).Default).toBe("");
    const pattern = new RegExp(String((parameters.ApiJwtIssuer as JsonObject).AllowedPattern));
    expect(
      ["", "https://cognito-idp.sa-east-1.amazonaws.com/sa-east-1_abc"].every((v) => pattern.test(v)),
    ).toBe(true);
    expect(["http://issuer.example", "issuer.example", "https://a b"].some((v) => pattern.test(v))).toBe(
      false,
    );
    for (const [path, methods] of Object.entries(paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        expect(operation.security, `${method} ${path}`).toEqual({
          "Fn::If": ["HasApiJwtIssuer", [{ Jwt: [] }], [{ AwsIam: [] }]],
        });
      }
    }
    const [condition, withIssuer, byDefault] = (
      (body.components as JsonObject).securitySchemes as JsonObject
    )["Fn::If"] as [string, JsonObject, JsonObject];
    expect(condition).toBe("HasApiJwtIssuer");
    expect(byDefault).toEqual({
      AwsIam: {
        type: "apiKey",
        name: "Authorization",
        in: "header",
        "x-amazon-apigateway-authtype": "awsSigv4",
      },
    });
    expect(withIssuer.Jwt).toEqual({
      type: "oauth2",
      "x-amazon-apigateway-authorizer": {
        type: "jwt",
        identitySource: "$request.header.Authorization",
        jwtConfiguration: { issuer: { Ref: "ApiJwtIssuer" }, audience: { Ref: "ApiJwtAudience" } },
      },
    });
    // No route may be left open by the other branch: neither scheme list is empty.
    expect(Object.keys(withIssuer)).toEqual(["Jwt"]);
  });

  it("throttles every route from parameters, and logs each request without headers or query strings", () => {
    const settings = api.DefaultRouteSettings as JsonObject;
    expect(settings.ThrottlingRateLimit).toEqual({ Ref: "ApiThrottlingRateLimit" });
    expect(settings.ThrottlingBurstLimit).toEqual({ Ref: "ApiThrottlingBurstLimit" });
    for (const name of ["ApiThrottlingRateLimit", "ApiThrottlingBurstLimit"]) {
      const parameter = parameters[name] as JsonObject;
      expect(parameter.MinValue, name).toBeGreaterThanOrEqual(1);
      expect(Number(parameter.Default), name).toBeGreaterThan(0);
    }
    expect(api.FailOnWarnings).toBe(true);
    const logs = api.AccessLogSettings as JsonObject;
    expect(logs.DestinationArn).toEqual({ "Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"] });
    expect((resource("HttpApiAccessLogGroup").Properties as JsonObject).RetentionInDays).toEqual({
      Ref: "LogRetentionDays",
    });
    const format = JSON.parse(String(logs.Format)) as Record<string, string>;
    expect(format.requestId).toBe("$context.requestId");
    expect(format.status).toBe("$context.status");
    expect(
      Object.values(format).filter((value) =>
        /header|querystring|path\b|authorizer\.claims\.(?!sub)/i.test(value),
      ),
    ).toEqual([]);
  });

  it("lets the API function sign uploads into landing/ only, list the run index only, and start and describe this machine's executions", () => {
    const statements = inlineStatements(propertiesOf("ApiFunction").Policies);
    const raw = (propertiesOf("ApiFunction").Policies as JsonObject[]).flatMap(
      (policy) => policy.Statement as JsonObject[],
    );
    expect(statements.every((statement) => statement.Effect === "Allow")).toBe(true);
    const grant = grants("ApiFunction");
    expect([...grant.keys()].sort()).toEqual([
      "s3:ListBucket",
      "s3:PutObject",
      "states:DescribeExecution",
      "states:StartExecution",
    ]);
    expect([...(grant.get("s3:PutObject") ?? [])]).toEqual(["${DataBucket.Arn}/landing/*"]);
    expect([...(grant.get("states:StartExecution") ?? [])]).toEqual(["${PipelineStateMachine}"]);
    expect([...(grant.get("states:DescribeExecution") ?? [])]).toEqual([
      "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${PipelineStateMachine.Name}:*",
    ]);
    expect([...(grant.get("s3:ListBucket") ?? [])]).toEqual(["${DataBucket.Arn}"]);
    const list = raw.find((statement) => str(statement.Action).includes("s3:ListBucket")) as JsonObject;
    expect(list.Condition).toEqual({ StringLike: { "s3:prefix": "run-index/*" } });
  });

  it("hands the API function its machine, bucket and upload limits, in ranges the function accepts", () => {
    const env = (propertiesOf("ApiFunction").Environment as JsonObject).Variables as JsonObject;
    expect(env).toEqual({
      ROADTOLL_BUCKET: { Ref: "DataBucket" },
      STATE_MACHINE_ARN: { Ref: "PipelineStateMachine" },
      UPLOAD_URL_TTL_SECONDS: { Ref: "UploadUrlTtlSeconds" },
      UPLOAD_MAX_BYTES: { Ref: "DownloadMaxBytes" },
    });
    const ttl = parameters.UploadUrlTtlSeconds as JsonObject;
    const machine = "arn:aws:states:us-east-1:123456789012:stateMachine:roadtoll";
    for (const value of [ttl.MinValue, ttl.Default, ttl.MaxValue]) {
      expect(
        loadApiConfig({ STATE_MACHINE_ARN: machine, UPLOAD_URL_TTL_SECONDS: String(value) })
          .uploadUrlTtlSeconds,
      ).toBe(Number(value));
    }
    for (const value of [Number(ttl.MinValue) - 1, Number(ttl.MaxValue) + 1]) {
      expect(() =>
        loadApiConfig({ STATE_MACHINE_ARN: machine, UPLOAD_URL_TTL_SECONDS: String(value) }),
      ).toThrow(/UPLOAD_URL_TTL_SECONDS/);
    }
    // API Gateway gives up on an integration after 30 s; the function's own timeout must come first.
    expect(propertiesOf("ApiFunction").Timeout).toBeLessThan(30);
    expect(subString(outputs.ApiUrl?.Value as Json)).toBe(
      "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}",
    );
  });
});
