// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${...}` are CloudFormation placeholders, not JS.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Diagnostic, getLanguageService } from "amazon-states-language-service";
import { describe, expect, it } from "vitest";
import { TextDocument } from "vscode-languageserver-textdocument";
import { skipNote, skipWithout } from "../support/tools.js";
import { root } from "./bundle.js";

/**
 * AWS's own tools, run on the project's cloud artifacts: the checks a deploy would meet first. The Python ones
 * (cfn-lint, which `sam validate --lint` runs, and the SAM transform) are on the development and CI machines;
 * elsewhere they are skipped, and the skip says why.
 */
const run = promisify(execFile);

async function has(command: string, args: string[]): Promise<boolean> {
  try {
    await run(command, args, { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

const cfnLint = await has("cfn-lint", ["--version"]);
const samTranslator = await has("python3", ["-c", "import samtranslator"]);

describe("AWS Toolkit's ASL language service (amazon-states-language-service)", () => {
  const service = getLanguageService({});
  const diagnose = async (text: string): Promise<Diagnostic[]> => {
    const document = TextDocument.create("file:///pipeline.asl.json", "json", 1, text);
    return service.doValidation(document, service.parseJSONDocument(document));
  };
  const definitions = readdirSync(join(root, "statemachine")).filter((name) => name.endsWith(".asl.json"));

  it.each(definitions)("finds nothing in statemachine/%s", async (name) => {
    const diagnostics = await diagnose(readFileSync(join(root, "statemachine", name), "utf8"));
    expect(diagnostics.map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it("is checking for real: a transition to a missing state is reported", async () => {
    const text = readFileSync(join(root, "statemachine/pipeline.asl.json"), "utf8").replace(
      '"Next": "IsUnchanged"',
      '"Next": "Nowhere"',
    );
    expect((await diagnose(text)).map((d) => d.message).join("\n")).toMatch(/Nowhere|state/i);
  });
});

const noCfnLint = !cfnLint && "cfn-lint is not installed";
describe.skipIf(skipWithout(noCfnLint))(`cfn-lint on template.yaml${skipNote(noCfnLint)}`, () => {
  it("finds nothing, informational checks included", async () => {
    const result = await run("cfn-lint", ["--include-checks", "I", "--", "template.yaml"], {
      cwd: root,
      timeout: 120_000,
    }).then(
      () => "",
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    expect(result).toBe("");
  });

  it("is checking for real: an empty default reaching a typed property is reported (W1030)", async () => {
    const folder = mkdtempSync(join(tmpdir(), "roadtoll-lint-"));
    const mutated = join(folder, "template.yaml");
    writeFileSync(
      mutated,
      readFileSync(join(root, "template.yaml"), "utf8").replaceAll(
        "!If [HasExistingSecurityGroups, !Ref ExistingSecurityGroupIds, !Ref AWS::NoValue]",
        "!Ref ExistingSecurityGroupIds",
      ),
    );
    const output = await run("cfn-lint", ["--", mutated], { timeout: 120_000 }).then(
      () => "",
      (error: { stdout?: string }) => error.stdout ?? "",
    );
    rmSync(folder, { recursive: true, force: true });
    expect(output).toMatch(/W1030/);
  });

  // The template's own spelling and attribute checks are cfn-lint's, on CloudFormation's current schemas and the
  // SAM transform: shown here catching a misspelt property (E3002), a GetAtt of an attribute the type lacks
  // (E1010) and a SAM property that does not exist (E0001, from the transform).
  it("is checking for real: misspelt properties and attributes are reported (E3002, E1010, E0001)", async () => {
    const folder = mkdtempSync(join(tmpdir(), "roadtoll-lint-"));
    const mutated = join(folder, "template.yaml");
    const text = readFileSync(join(root, "template.yaml"), "utf8");
    const once = (from: string, to: string) => {
      expect(text).toContain(from);
      return (current: string) => current.replace(from, to);
    };
    const lint = async (mutation: (current: string) => string) => {
      writeFileSync(mutated, mutation(text));
      return run("cfn-lint", ["--", mutated], { timeout: 120_000 }).then(
        () => "",
        (error: { stdout?: string }) => error.stdout ?? "",
      );
    };
    expect(await lint(once("      CidrBlock: !Select [0,", "      CidrBlok: !Select [0,"))).toMatch(
      /E3002 .*'CidrBlok' was unexpected/,
    );
    expect(await lint(once("- !GetAtt DataBucket.Arn", "- !GetAtt DataBucket.Arnn"))).toMatch(
      /E1010 'Arnn' is not one of/,
    );
    expect(await lint(once("      MemorySize: 512", "      MemorySise: 512"))).toMatch(
      /E0001 .*property MemorySise not defined for resource of type AWS::Serverless::Function/,
    );
    rmSync(folder, { recursive: true, force: true });
  }, 360_000);
});

type Resource = { Type: string; Properties: Record<string, unknown> };

const noSamTranslator = !samTranslator && "python3 has no samtranslator";
describe.skipIf(skipWithout(noSamTranslator))(
  `the SAM transform (aws-sam-translator) on template.yaml${skipNote(noSamTranslator)}`,
  () => {
    const transformed = async (): Promise<Record<string, Resource>> => {
      const { stdout } = await run("python3", [join(root, "tests/infra/sam-transform.py"), "template.yaml"], {
        cwd: root,
        timeout: 120_000,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, AWS_DEFAULT_REGION: "us-east-1" },
      });
      return (JSON.parse(stdout) as { Resources: Record<string, Resource> }).Resources;
    };

    it("succeeds once packaged, giving image functions, the state machine and their roles", async () => {
      const resources = await transformed();
      for (const name of ["IngestFunction", "DeathsFunction", "MigrateFunction", "ApiFunction"]) {
        expect(resources[name]?.Type, name).toBe("AWS::Lambda::Function");
        expect(resources[name]?.Properties).toMatchObject({
          PackageType: "Image",
          Code: { ImageUri: expect.stringContaining(".dkr.ecr.") },
        });
        expect(resources[`${name}Role`]?.Type, `${name}Role`).toBe("AWS::IAM::Role");
      }
      const machine = resources.PipelineStateMachine?.Properties;
      expect(resources.PipelineStateMachine?.Type).toBe("AWS::StepFunctions::StateMachine");
      expect(machine?.DefinitionS3Location).toEqual({
        Bucket: "roadtoll-artifacts",
        Key: "PipelineStateMachine.asl.json",
      });
      // Exactly the placeholders the ASL uses, each resolved to its function's ARN.
      expect(machine?.DefinitionSubstitutions).toEqual({
        IngestFunctionArn: { "Fn::GetAtt": ["IngestFunction", "Arn"] },
        DeathsFunctionArn: { "Fn::GetAtt": ["DeathsFunction", "Arn"] },
      });
      expect(machine?.TracingConfiguration).toEqual({ Enabled: true });
    });

    it("makes the refresh schedule: an EventBridge Scheduler schedule whose role may only start this machine", async () => {
      const resources = await transformed();
      const schedules = Object.values(resources).filter((r) => r.Type === "AWS::Scheduler::Schedule");
      expect(schedules).toHaveLength(1);
      const target = schedules[0]?.Properties.Target as {
        Arn: unknown;
        RoleArn: { "Fn::GetAtt": string[] };
        Input: string;
      };
      expect(target.Arn).toEqual({ Ref: "PipelineStateMachine" });
      expect(JSON.parse(target.Input)).toEqual({ all: true });
      const role = resources[target.RoleArn["Fn::GetAtt"][0] as string]?.Properties as {
        Policies: Array<{ PolicyDocument: { Statement: Array<{ Action: unknown; Resource: unknown }> } }>;
      };
      expect(role.Policies.flatMap((policy) => policy.PolicyDocument.Statement)).toEqual([
        { Action: "states:StartExecution", Effect: "Allow", Resource: { Ref: "PipelineStateMachine" } },
      ]);
    });

    it("gives each role what the functions need and SAM's managed policies, X-Ray from tracing alone", async () => {
      const resources = await transformed();
      const managed = (name: string) => resources[name]?.Properties.ManagedPolicyArns as string[];
      expect(managed("PipelineStateMachineRole")).toEqual(["arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"]);
      expect(managed("IngestFunctionRole")).toContain(
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
      );
      for (const name of ["DeathsFunctionRole", "MigrateFunctionRole"]) {
        expect(managed(name)).toContain(
          "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        );
      }
      const statements = (name: string) =>
        (
          (resources[name]?.Properties.Policies ?? []) as Array<{
            PolicyDocument: { Statement: Array<{ Action: unknown }> };
          }>
        )
          .flatMap((policy) => policy.PolicyDocument.Statement)
          .flatMap((statement) => ([] as unknown[]).concat(statement.Action));
      expect(statements("PipelineStateMachineRole")).toContain("lambda:InvokeFunction");
      expect(
        statements("PipelineStateMachineRole").filter((action) => String(action).startsWith("xray:")),
      ).toEqual([]);
      expect(statements("DeathsFunctionRole")).toEqual(
        expect.arrayContaining(["s3:GetObject", "s3:PutObject", "secretsmanager:GetSecretValue"]),
      );
    });

    it("makes the HTTP API: each path a Lambda proxy (payload 2.0) to the API function, which it may invoke on that route only", async () => {
      const resources = await transformed();
      const api = resources.HttpApi as Resource;
      expect(api.Type).toBe("AWS::ApiGatewayV2::Api");
      const paths = (
        api.Properties.Body as { paths: Record<string, Record<string, Record<string, unknown>>> }
      ).paths;
      const routes = Object.entries(paths).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, operation]) => ({
          route: `${method === "x-amazon-apigateway-any-method" ? "ANY" : method.toUpperCase()} ${path}`,
          operation,
        })),
      );
      // Every method of each path: the function answers 405 (with Allow), HEAD and OPTIONS itself.
      expect(routes.map(({ route }) => route).sort()).toEqual([
        "ANY /openapi.json",
        "ANY /runs",
        "ANY /runs/{id}",
        "ANY /uploads",
      ]);
      for (const { route, operation } of routes) {
        expect(operation["x-amazon-apigateway-integration"], route).toEqual({
          type: "aws_proxy",
          httpMethod: "POST",
          payloadFormatVersion: "2.0",
          uri: {
            "Fn::Sub":
              "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${ApiFunction.Arn}/invocations",
          },
        });
        expect(operation.security, route).toHaveProperty("Fn::If");
      }
      const stages = Object.values(resources).filter((r) => r.Type === "AWS::ApiGatewayV2::Stage");
      expect(stages).toHaveLength(1);
      expect(stages[0]?.Properties).toMatchObject({
        StageName: "$default",
        AutoDeploy: true,
        DefaultRouteSettings: {
          ThrottlingRateLimit: { Ref: "ApiThrottlingRateLimit" },
          ThrottlingBurstLimit: { Ref: "ApiThrottlingBurstLimit" },
        },
      });
      const permissions = Object.values(resources)
        .filter((r) => r.Type === "AWS::Lambda::Permission")
        .map(
          (r) =>
            r.Properties as { FunctionName: unknown; Principal: string; SourceArn: { "Fn::Sub": [string] } },
        );
      expect(permissions.every((p) => JSON.stringify(p.FunctionName) === '{"Ref":"ApiFunction"}')).toBe(true);
      expect(permissions.every((p) => p.Principal === "apigateway.amazonaws.com")).toBe(true);
      expect(
        permissions.map((p) => p.SourceArn["Fn::Sub"][0].replace(/^.*\$\{__Stage__\}/, "")).sort(),
      ).toEqual(["/*/openapi.json", "/*/runs", "/*/runs/*", "/*/uploads"]);
    });
  },
);
