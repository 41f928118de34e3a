import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { isObject, type JsonObject, loadCloudFormation } from "./cloudformation.js";

const root = resolve(import.meta.dirname, "../..");

type TomlValue = string | number | boolean;
type TomlTable = { [key: string]: TomlValue | TomlTable };

/**
 * Reads the TOML subset samconfig.toml uses: [dotted.table] headers, `key = value` with basic strings,
 * numbers and booleans, and comments. No TOML parser is among the dependencies, and anything outside the
 * subset is rejected rather than misread.
 */
function parseToml(source: string): TomlTable {
  const document: TomlTable = {};
  let table = document;
  for (const [index, raw] of source.split("\n").entries()) {
    const line = raw.replace(/^\s+|\s+$/g, "");
    if (line === "" || line.startsWith("#")) continue;
    const header = line.match(/^\[([\w.-]+)\]$/);
    if (header) {
      table = document;
      for (const part of (header[1] as string).split(".")) {
        const next = table[part] ?? {};
        if (!isTable(next)) throw new Error(`line ${index + 1}: ${part} is not a table`);
        table[part] = next;
        table = next;
      }
      continue;
    }
    const pair = line.match(/^([\w-]+)\s*=\s*(.+?)\s*(#.*)?$/);
    if (!pair) throw new Error(`line ${index + 1}: unsupported TOML: ${raw}`);
    const [, key, value] = pair as unknown as [string, string, string];
    if (key in table) throw new Error(`line ${index + 1}: duplicate key ${key}`);
    table[key] = parseValue(value, index + 1);
  }
  return document;
}

function parseValue(text: string, line: number): TomlValue {
  if (text === "true" || text === "false") return text === "true";
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  const string = text.match(/^"((?:[^"\\]|\\.)*)"$/);
  if (string) return JSON.parse(`"${string[1]}"`) as string;
  throw new Error(`line ${line}: unsupported value ${text}`);
}

function isTable(value: unknown): value is TomlTable {
  return typeof value === "object" && value !== null;
}

function table(document: TomlTable, path: string): TomlTable {
  const found = path
    .split(".")
    .reduce<TomlValue | TomlTable | undefined>(
      (node, key) => (isTable(node) ? node[key] : undefined),
      document,
    );
  if (!isTable(found)) throw new Error(`samconfig.toml has no [${path}]`);
  return found;
}

function overrides(value: TomlValue | TomlTable | undefined): Record<string, string> {
  return Object.fromEntries(
    String(value ?? "")
      .split(/\s+/)
      .filter(Boolean)
      .map((pair) => {
        const [key, ...rest] = pair.split("=");
        return [key as string, rest.join("=").replace(/^"|"$/g, "")];
      }),
  );
}

const config = parseToml(readFileSync(join(root, "samconfig.toml"), "utf8"));
const template = loadCloudFormation(join(root, "template.yaml"));
const parameters = template.Parameters as Record<string, JsonObject>;
const resources = template.Resources as Record<string, JsonObject>;

describe("the TOML subset reader", () => {
  it("reads tables, strings, numbers and booleans and rejects anything else", () => {
    expect(parseToml('version = 0.1\n[a.b]\nx = "y \\"q\\"" # note\nflag = true\n')).toEqual({
      version: 0.1,
      a: { b: { x: 'y "q"', flag: true } },
    });
    expect(() => parseToml("list = [1, 2]")).toThrow(/unsupported value/);
    expect(() => parseToml("x = 1\nx = 2")).toThrow(/duplicate key/);
  });
});

describe("samconfig.toml", () => {
  it("is a version 0.1 file with default and prod environments", () => {
    expect(config.version).toBe(0.1);
    expect(
      Object.keys(config)
        .filter((key) => key !== "version")
        .sort(),
    ).toEqual(["default", "prod"]);
  });

  it.each(["default", "prod"])(
    "[%s] names its stack, builds cached and in parallel, lints on validate",
    (env) => {
      expect(table(config, `${env}.global.parameters`).stack_name).toMatch(/^roadtoll-/);
      expect(table(config, `${env}.build.parameters`)).toMatchObject({ cached: true, parallel: true });
      expect(table(config, `${env}.validate.parameters`)).toMatchObject({ lint: true });
    },
  );

  it.each(["default", "prod"])(
    "[%s] deploys with the capabilities SAM needs and an artifacts bucket",
    (env) => {
      const deploy = table(config, `${env}.deploy.parameters`);
      expect(String(deploy.capabilities).split(" ").sort()).toEqual([
        "CAPABILITY_AUTO_EXPAND",
        "CAPABILITY_IAM",
      ]);
      expect(deploy.resolve_s3).toBe(true);
      expect(deploy.region).toMatch(/^[a-z]{2}(-[a-z]+)+-\d$/);
    },
  );

  it.each(["default", "prod"])(
    "[%s] overrides only parameters the template declares, with allowed values",
    (env) => {
      const deploy = table(config, `${env}.deploy.parameters`);
      for (const [name, value] of Object.entries(overrides(deploy.parameter_overrides))) {
        const parameter = parameters[name];
        expect(parameter, `${name} is a template parameter`).toBeDefined();
        const allowed = parameter?.AllowedValues as (string | number)[] | undefined;
        if (allowed) expect(allowed.map(String), name).toContain(value);
        if (parameter?.Type === "Number") expect(Number.isFinite(Number(value)), name).toBe(true);
      }
    },
  );

  it("asks before deploying from a workstation, and lets SAM create the image repositories there", () => {
    expect(table(config, "default.deploy.parameters")).toMatchObject({
      confirm_changeset: true,
      resolve_image_repos: true,
    });
  });

  it("deploys prod unattended, protected from deletion, into repositories CI passes", () => {
    const deploy = table(config, "prod.deploy.parameters");
    expect(deploy).toMatchObject({ confirm_changeset: false, resolve_image_repos: false });
    expect(overrides(deploy.parameter_overrides).DeletionProtection).toBe("true");
    // The release workflow appends MigrationsVersion itself; a fixed value here would be silently replaced.
    expect(overrides(deploy.parameter_overrides).MigrationsVersion).toBeUndefined();
  });

  it("points sam local at an env-vars file that only sets variables the template declares", () => {
    const local = table(config, "default.local_start_lambda.parameters");
    expect(overrides(local.parameter_overrides)).toEqual({ LocalDevelopment: "true" });
    const file = join(root, String(local.env_vars));
    expect(existsSync(file)).toBe(true);
    const envVars = JSON.parse(readFileSync(file, "utf8")) as Record<string, Record<string, string>>;
    const globals = (((template.Globals as JsonObject).Function as JsonObject).Environment as JsonObject)
      .Variables as JsonObject;
    const declared = (fn: string) => {
      const environment = (resources[fn]?.Properties as JsonObject | undefined)?.Environment;
      const own = isObject(environment) ? environment.Variables : undefined;
      return new Set([...Object.keys(globals), ...Object.keys(isObject(own) ? own : {})]);
    };
    const functionNames = Object.keys(resources).filter(
      (name) => resources[name]?.Type === "AWS::Serverless::Function",
    );
    for (const [scope, variables] of Object.entries(envVars)) {
      // `sam local` silently drops any variable the function does not declare, so each must be declared somewhere.
      const targets = scope === "Parameters" ? functionNames : [scope];
      expect(functionNames, scope).toEqual(expect.arrayContaining(targets));
      for (const variable of Object.keys(variables)) {
        expect(
          targets.some((fn) => declared(fn).has(variable)),
          `${scope}.${variable}`,
        ).toBe(true);
      }
    }
  });
});
