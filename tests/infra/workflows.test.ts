import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadCloudFormation } from "./cloudformation.js";

const root = resolve(import.meta.dirname, "../..");
const workflowsDir = join(root, ".github/workflows");
const require = createRequire(import.meta.url);
// CommonJS build of a WASM module; the import is synchronous.
const { validateWorkflow } = require("@action-validator/core") as typeof import("@action-validator/core");

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  permissions?: Record<string, string> | string;
  "timeout-minutes"?: number;
  services?: Record<string, { image: string }>;
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string> | string;
  jobs: Record<string, Job>;
}

const files = readdirSync(workflowsDir).filter((file) => /\.ya?ml$/.test(file));
const workflows = Object.fromEntries(
  files.map((file) => {
    const source = readFileSync(join(workflowsDir, file), "utf8");
    return [file, { source, workflow: parse(source) as Workflow }];
  }),
);
const runs = (workflow: Workflow) =>
  Object.values(workflow.jobs)
    .flatMap((job) => job.steps)
    .map((step) => step.run ?? "")
    .join("\n");

describe.each(files)(".github/workflows/%s", (file) => {
  const { source, workflow } = workflows[file] as { source: string; workflow: Workflow };

  it("passes action-validator's schema check", () => {
    expect(validateWorkflow(source).errors).toEqual([]);
  });

  it("pins every action to a full commit SHA and says which release it is", () => {
    const uses = source.split("\n").filter((line) => /^\s*(-\s+)?uses:/.test(line));
    expect(uses.length).toBeGreaterThan(0);
    for (const line of uses) {
      expect(line).toMatch(/uses:\s+[\w.-]+\/[\w./-]+@[0-9a-f]{40}\s+#\s+v\d+(\.\d+)*\s*$/);
    }
  });

  it("declares least-privilege permissions", () => {
    expect(workflow.permissions).toEqual({ contents: "read" });
    for (const job of Object.values(workflow.jobs)) {
      if (job.permissions === undefined) continue;
      expect(job.permissions).not.toBe("write-all");
      const writes = Object.entries(job.permissions as Record<string, string>).filter(
        ([, level]) => level === "write",
      );
      // Only OIDC federation may be writable; nothing writes to the repository.
      expect(writes.map(([scope]) => scope).filter((scope) => scope !== "id-token")).toEqual([]);
    }
  });

  it("bounds every job in time and keeps the checkout token out of the workspace", () => {
    for (const job of Object.values(workflow.jobs)) {
      expect(job["timeout-minutes"]).toBeGreaterThan(0);
      for (const step of job.steps.filter((s) => s.uses?.startsWith("actions/checkout@"))) {
        expect(step.with?.["persist-credentials"]).toBe(false);
      }
    }
  });

  it("never interpolates expressions straight into shell scripts", () => {
    // ${{ }} inside run: is pasted into the script before the shell parses it; values go through env instead.
    expect(runs(workflow)).not.toContain("${{");
  });
});

describe("workflows agree with each other", () => {
  it("pin the same action to the same commit everywhere", () => {
    const pins = new Map<string, Set<string>>();
    for (const { source } of Object.values(workflows)) {
      for (const match of source.matchAll(/uses:\s+([^@\s]+)@([0-9a-f]{40})/g)) {
        const set = pins.get(match[1] as string) ?? new Set<string>();
        set.add(match[2] as string);
        pins.set(match[1] as string, set);
      }
    }
    for (const [action, shas] of pins) expect(shas.size, action).toBe(1);
  });
});

describe("ci.yml", () => {
  const { workflow } = workflows["ci.yml"] as { workflow: Workflow };
  const scripts = Object.keys(
    (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: object }).scripts,
  );

  it("runs on pull requests and pushes", () => {
    expect(Object.keys(workflow.on).sort()).toEqual(["pull_request", "push"]);
  });

  it("runs .ci/run (type-check, lint, the tests) against a Postgres 16 service with Node 22", () => {
    const test = workflow.jobs.test as Job;
    expect(test.services?.postgres?.image).toBe("postgres:16");
    expect(test.env?.CI_DATABASE_URL).toMatch(/^postgres:\/\/.+@localhost:5432\//);
    const setupNode = test.steps.find((step) => step.uses?.startsWith("actions/setup-node@"));
    expect(String(setupNode?.with?.["node-version"])).toBe("22");
    const commands = test.steps.map((step) => step.run).filter(Boolean);
    expect(commands.at(-1)).toBe("bash .ci/run");
    const ciRun = readFileSync(join(root, ".ci/run"), "utf8");
    for (const command of ["npm ci", "npm run typecheck", "npm run lint", "npm test"]) {
      expect(ciRun).toContain(command);
    }
    for (const script of ["typecheck", "lint", "test"]) expect(scripts).toContain(script);
  });

  it("installs every tool a test needs, so that none is skipped (CI=true fails a test whose tool is missing)", () => {
    const test = workflow.jobs.test as Job;
    const setup = test.steps
      .map((step) => step.run ?? "")
      .slice(0, -1)
      .join("\n");
    for (const tool of ["cfn-lint", "aws-sam-translator", "moto[server]", "awscli"])
      expect(setup).toContain(tool);
    expect(setup).toMatch(/\/usr\/local\/bin\/chromium/);
    // .ci/run checks the same list before it runs anything.
    const ciRun = readFileSync(join(root, ".ci/run"), "utf8");
    for (const check of ["chromium", "cfn-lint", "samtranslator", "moto_server", "command -v aws"]) {
      expect(ciRun).toContain(check);
    }
  });

  it("validates and builds the SAM application", () => {
    const all = runs(workflow);
    expect(all).toMatch(/sam validate --lint/);
    expect(all).toMatch(/sam build/);
    expect(JSON.stringify(workflow)).toContain("aws-actions/setup-sam@");
  });
});

describe("release.yml", () => {
  const { workflow } = workflows["release.yml"] as { workflow: Workflow };
  const script = runs(workflow);
  const functions = Object.entries(loadCloudFormation(join(root, "template.yaml")).Resources as object)
    .filter(([, resource]) => (resource as { Type: string }).Type === "AWS::Serverless::Function")
    .map(([name]) => name);

  it("runs only for version tags", () => {
    expect(workflow.on).toEqual({ push: { tags: ["v*"] } });
  });

  it("assumes the deploy role through OIDC, not stored keys", () => {
    const job = Object.values(workflow.jobs)[0] as Job;
    expect(job.permissions).toEqual({ contents: "read", "id-token": "write" });
    const credentials = job.steps.find((step) =>
      step.uses?.startsWith("aws-actions/configure-aws-credentials@"),
    );
    expect(credentials?.with?.["role-to-assume"]).toMatch(/^\$\{\{ secrets\.\w+ \}\}$/);
    expect(JSON.stringify(job)).not.toMatch(/aws-access-key-id|aws-secret-access-key/);
  });

  it("builds single-platform images without attestations, tagged with version and commit", () => {
    expect(script).toContain("docker buildx build");
    expect(script).toContain("--platform linux/amd64");
    expect(script).toContain("--provenance=false");
    expect(script).toContain('--tag "$repo:$VERSION"');
    expect(script).toContain('--tag "$repo:$GITHUB_SHA"');
    // Every function of the template has an image, built from the Dockerfile the template names.
    expect(script).toMatch(/for fn in ingest deaths migrate api; do/);
    // One Dockerfile, the function named by a build argument as template.yaml's DockerBuildArgs name it.
    expect(script).toContain('--file "images/Dockerfile"');
    expect(script).toContain('--build-arg "FUNCTION=$fn"');
    expect(functions.sort()).toEqual(["ApiFunction", "DeathsFunction", "IngestFunction", "MigrateFunction"]);
  });

  it("deploys the prod configuration with an image repository for every function", () => {
    expect(script).toContain("sam deploy");
    expect(script).toContain("--config-env prod");
    for (const fn of functions) {
      expect(script).toContain(`--image-repositories "${fn}=$`);
      expect(script).toContain(`.Resources.${fn}.Properties.ImageUri`);
    }
    expect(script).toContain("MigrationsVersion=$GITHUB_SHA");
    // After the deploy: the bucket's links file, seeded once and never overwritten (tests/infra/seed-links-file.test.ts).
    expect(script.indexOf("scripts/seed-links-file.sh")).toBeGreaterThan(script.indexOf("sam deploy"));
    expect(script).toContain('["prod"]["global"]["parameters"]["stack_name"]');
    expect(script).toContain('["prod"]["deploy"]["parameters"]["parameter_overrides"]');
  });
});
