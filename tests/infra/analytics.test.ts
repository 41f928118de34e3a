// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${...}` are CloudFormation placeholders, not JS.
import { createReadStream, readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { cleanCsv } from "../../src/domain/clean-csv.js";
import {
  ERROR_METRIC,
  FUNCTION_DIMENSION,
  METRICS_NAMESPACE,
  RUN_METRICS,
} from "../../src/lambda/metrics.js";
import { CURATED_COLUMNS, CURATED_REPORT_KEY, curatedFiguresKey } from "../../src/pipeline/curated.js";
import { cleanKey, rejectsKey } from "../../src/pipeline/keys.js";
import { root } from "./bundle.js";
import {
  isObject,
  type Json,
  type JsonObject,
  loadCloudFormation,
  subReferences,
  subString,
} from "./cloudformation.js";

/**
 * Item 5 of issue 10: the Glue tables, the Athena workgroup and the dashboard, checked against the code that
 * writes the objects and emits the metrics, never against a copy of it.
 */
const template = loadCloudFormation(join(root, "template.yaml"));
const resources = template.Resources as Record<string, JsonObject>;
const parameters = template.Parameters as Record<string, JsonObject>;

function properties(name: string): JsonObject {
  const found = resources[name];
  if (!found) throw new Error(`template.yaml has no resource ${name}`);
  return found.Properties as JsonObject;
}

/** A value as text: an Fn::Sub as its string, a Ref as `${Name}`, a GetAtt as `${Name.Attribute}`. */
function text(value: Json | undefined): string {
  const sub = subString(value ?? null);
  if (sub !== undefined) return sub;
  if (isObject(value) && "Ref" in value) return `\${${value.Ref}}`;
  if (isObject(value) && "Fn::GetAtt" in value) return `\${${(value["Fn::GetAtt"] as string[]).join(".")}}`;
  return String(value);
}

function tableInput(name: string): JsonObject {
  return properties(name).TableInput as JsonObject;
}

/** The S3 folder a partition of the table reads, with `${source}` standing for the partition value. */
function partitionFolder(name: string): string {
  const location = text((tableInput(name).Parameters as JsonObject)["storage.location.template"]);
  // Fn::Sub writes `${!source}` for a literal `${source}`.
  return location.replace("${!source}", "${source}");
}

/** Where the code puts an object for source `${source}`, as an s3:// URL in the data bucket. */
const inBucket = (key: string) => `s3://\${DataBucket}/${key}`;
const folderOf = (key: string) => key.slice(0, key.lastIndexOf("/") + 1);

/** The header line of a clean object, made by the ingest step's own code from a bundled sample. */
async function cleanHeader(): Promise<string> {
  let written = "";
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written += chunk.toString("utf8");
      callback();
    },
  });
  const file = join(root, "samples/amostra_via_norte.csv");
  await cleanCsv({ input: createReadStream(file), file, output });
  return written.slice(0, written.indexOf("\n"));
}

describe("template.yaml: Glue Data Catalog", () => {
  it("has a database named after the stack, hyphens made underscores for Athena", () => {
    const database = resources.AnalyticsDatabase as JsonObject;
    expect(database.Type).toBe("AWS::Glue::Database");
    expect((database.Properties as JsonObject).DatabaseInput).toMatchObject({
      Name: { "Fn::Join": ["_", { "Fn::Split": ["-", { Ref: "AWS::StackName" }] }] },
    });
    for (const table of ["CleanTable", "DeathsByVehicleTable"]) {
      expect(resources[table]?.Type, table).toBe("AWS::Glue::Table");
      expect(properties(table).DatabaseName, table).toEqual({ Ref: "AnalyticsDatabase" });
    }
  });

  it("reads clean/ with the clean file's own columns, in its order, after its header line", async () => {
    const header = await cleanHeader();
    // The clean file is comma-separated whatever the source used; the SerDe must split on that.
    const columns = header.split(",");
    expect(columns.length).toBeGreaterThan(10);
    const input = tableInput("CleanTable");
    const storage = input.StorageDescriptor as JsonObject;
    expect((storage.Columns as JsonObject[]).map((column) => column.Name)).toEqual(columns);
    // Unvalidated rows (a count of -1, a ragged row) must not fail a whole query: text throughout.
    expect(new Set((storage.Columns as JsonObject[]).map((column) => column.Type))).toEqual(
      new Set(["string"]),
    );
    expect(storage.SerdeInfo).toEqual({
      SerializationLibrary: "org.apache.hadoop.hive.serde2.OpenCSVSerde",
      Parameters: { separatorChar: ",", quoteChar: '"' },
    });
    expect((input.Parameters as JsonObject)["skip.header.line.count"]).toBe("1");
  });

  it("finds each source's clean objects where ingest writes them", () => {
    const key = cleanKey("${source}", "20240101T000000000Z-abc");
    expect(partitionFolder("CleanTable")).toBe(inBucket(folderOf(key)));
    expect(text((tableInput("CleanTable").StorageDescriptor as JsonObject).Location)).toBe(
      inBucket("clean/"),
    );
  });

  it("reads the curated JSON by column name, typed, with the columns the curated zone writes", () => {
    const input = tableInput("DeathsByVehicleTable");
    const storage = input.StorageDescriptor as JsonObject;
    const columns = storage.Columns as JsonObject[];
    expect(columns.map((column) => column.Name).sort()).toEqual([...CURATED_COLUMNS].sort());
    expect(columns.find((column) => column.Name === "number_deaths")?.Type).toBe("bigint");
    expect((storage.SerdeInfo as JsonObject).SerializationLibrary).toBe(
      "org.apache.hive.hcatalog.data.JsonSerDe",
    );
    expect(partitionFolder("DeathsByVehicleTable")).toBe(
      inBucket(folderOf(curatedFiguresKey("${source}", "json"))),
    );
  });

  it("has nothing but the JSON under the curated table's folder (Athena reads every object there)", () => {
    const folder = partitionFolder("DeathsByVehicleTable");
    expect(inBucket(curatedFiguresKey("${source}", "json")).startsWith(folder)).toBe(true);
    expect(inBucket(curatedFiguresKey("${source}", "csv")).startsWith(folder)).toBe(false);
  });

  it.each(["CleanTable", "DeathsByVehicleTable"])(
    "%s: partitions by source with projection over the CatalogSources list",
    (name) => {
      const input = tableInput(name);
      expect(input.PartitionKeys).toEqual([{ Name: "source", Type: "string" }]);
      expect(input.Parameters).toMatchObject({
        "projection.enabled": "true",
        // enum, not injected: a query without `WHERE source = …` (a total over all sources) must work.
        "projection.source.type": "enum",
        "projection.source.values": { Ref: "CatalogSources" },
      });
      // Only the columns in the file; the partition key is not one of them.
      const columns = ((input.StorageDescriptor as JsonObject).Columns as JsonObject[]).map(
        (column) => column.Name,
      );
      expect(columns).not.toContain("source");
    },
  );

  it("lists by default every source in link.yml, each one the parameter's pattern accepts", () => {
    const links = Object.keys(parse(readFileSync(join(root, "link.yml"), "utf8")) as Record<string, string>);
    const parameter = parameters.CatalogSources as JsonObject;
    expect(String(parameter.Default).split(",").sort()).toEqual(links.sort());
    const pattern = new RegExp(String(parameter.AllowedPattern));
    expect(pattern.test(String(parameter.Default))).toBe(true);
    expect(pattern.test("Via_Sul,VIA-X")).toBe(true);
    // A space or an empty name would become a partition Athena never finds.
    for (const bad of ["Via_Sul, Via_X", "Via_Sul,,Via_X", "", "a/b"])
      expect(pattern.test(bad), bad).toBe(false);
  });
});

describe("template.yaml: Athena workgroup", () => {
  const workgroup = properties("AnalyticsWorkGroup");
  const configuration = workgroup.WorkGroupConfiguration as JsonObject;

  it("enforces its own encrypted result location in the bucket, and a bytes-scanned cutoff", () => {
    expect(configuration.EnforceWorkGroupConfiguration).toBe(true);
    const result = configuration.ResultConfiguration as JsonObject;
    expect(text(result.OutputLocation)).toBe("s3://${DataBucket}/athena-results/");
    expect(result.EncryptionConfiguration).toEqual({ EncryptionOption: "SSE_S3" });
    expect(result.ExpectedBucketOwner).toEqual({ Ref: "AWS::AccountId" });
    expect(configuration.BytesScannedCutoffPerQuery).toEqual({ Ref: "AthenaBytesScannedCutoff" });
    // Athena refuses a cutoff below 10 MB.
    expect((parameters.AthenaBytesScannedCutoff as JsonObject).MinValue).toBeGreaterThanOrEqual(10_000_000);
    expect(text(workgroup.Name)).toBe("${AWS::StackName}-analytics");
  });

  it("expires the results it leaves in the bucket", () => {
    const bucket = properties("DataBucket");
    const rules = (bucket.LifecycleConfiguration as JsonObject).Rules as JsonObject[];
    expect(rules.find((rule) => rule.Prefix === "athena-results/")).toMatchObject({
      Status: "Enabled",
      ExpirationInDays: { Ref: "AthenaResultsRetentionDays" },
    });
  });
});

interface Statement {
  Sid: string;
  Action: string[];
  Resource: string[];
  Condition?: Json;
}

describe("template.yaml: the analysts' policy grants only what a query needs", () => {
  const document = properties("AnalyticsQueryPolicy").PolicyDocument as JsonObject;
  const statements: Statement[] = (document.Statement as JsonObject[]).map((statement) => {
    expect(statement.Effect).toBe("Allow");
    return {
      Sid: String(statement.Sid),
      Action: ([] as Json[]).concat(statement.Action ?? []).map(String),
      Resource: ([] as Json[]).concat(statement.Resource ?? []).map(text),
      ...(statement.Condition ? { Condition: statement.Condition } : {}),
    };
  });
  const allowed = (prefix: string) =>
    statements.flatMap((statement) =>
      statement.Action.filter((action) => action.startsWith(prefix)).map((action) => ({ action, statement })),
    );

  it("reads clean/ and curated/, writes only athena-results/, and lists only those prefixes", () => {
    const objects = new Map<string, string[]>();
    for (const { action, statement } of allowed("s3:")) {
      objects.set(action, [...(objects.get(action) ?? []), ...statement.Resource].sort());
    }
    expect(objects.get("s3:GetObject")).toEqual([
      "${DataBucket.Arn}/athena-results/*",
      "${DataBucket.Arn}/clean/*",
      "${DataBucket.Arn}/curated/*",
    ]);
    for (const write of ["s3:PutObject", "s3:AbortMultipartUpload"]) {
      expect(objects.get(write), write).toEqual(["${DataBucket.Arn}/athena-results/*"]);
    }
    expect(objects.get("s3:GetBucketLocation")).toEqual(["${DataBucket.Arn}"]);
    expect(objects.get("s3:ListBucket")).toEqual(["${DataBucket.Arn}"]);
    expect([...objects.keys()].sort()).toEqual([
      "s3:AbortMultipartUpload",
      "s3:GetBucketLocation",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:PutObject",
    ]);
    const list = allowed("s3:ListBucket")[0]?.statement;
    expect(list?.Condition).toEqual({
      StringLike: { "s3:prefix": ["clean/*", "curated/*", "athena-results/*"] },
    });
  });

  it("only reads the catalog, and only this database's tables", () => {
    for (const { action, statement } of allowed("glue:")) {
      expect(action, action).toMatch(/^glue:Get/);
      for (const resource of statement.Resource) {
        expect(resource).toMatch(
          /:catalog$|:database\/\$\{AnalyticsDatabase\}$|:table\/\$\{AnalyticsDatabase\}\/\*$/,
        );
      }
    }
  });

  it("runs queries in this workgroup only; the resource-less list calls are the only `*`", () => {
    for (const { action, statement } of allowed("athena:")) {
      if (statement.Resource.includes("*")) expect(action, action).toMatch(/^athena:List/);
      else
        expect(statement.Resource, action).toEqual([
          "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/${AnalyticsWorkGroup}",
        ]);
    }
    expect(allowed("athena:").map(({ action }) => action)).toContain("athena:StartQueryExecution");
    const services = new Set(statements.flatMap((statement) => statement.Action.map((a) => a.split(":")[0])));
    expect(services).toEqual(new Set(["athena", "glue", "s3"]));
  });
});

describe("template.yaml: the deaths function publishes the curated zone (PublishCurated)", () => {
  const deaths = properties("DeathsFunction");
  const statements = ((deaths.Policies as JsonObject[]) ?? [])
    .flatMap((policy) => (Array.isArray(policy.Statement) ? (policy.Statement as JsonObject[]) : []))
    .map((statement) => ({
      Sid: String(statement.Sid),
      Effect: String(statement.Effect),
      Action: ([] as Json[]).concat(statement.Action ?? []).map(String),
      Resource: ([] as Json[]).concat(statement.Resource ?? []).map(text),
    }));
  /** The object ARNs an action is allowed on, as IAM wildcards. */
  const allowedOn = (action: string) =>
    statements
      .filter((statement) => statement.Effect === "Allow" && statement.Action.includes(action))
      .flatMap((statement) => statement.Resource);
  /** Whether IAM would match the object ARN of `key` in the data bucket against one of `patterns`. */
  const covers = (patterns: string[], key: string) =>
    patterns.some((pattern) =>
      new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`).test(
        `\${DataBucket.Arn}/${key}`,
      ),
    );
  const source = "Via_Sul";
  const written = [CURATED_REPORT_KEY, curatedFiguresKey(source, "csv"), curatedFiguresKey(source, "json")];

  it("may put every object the curated zone is made of, under curated/ and nowhere else", () => {
    const statement = statements.find((candidate) => candidate.Sid === "WriteCuratedZone");
    expect(statement).toEqual({
      Sid: "WriteCuratedZone",
      Effect: "Allow",
      Action: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"],
      Resource: ["${DataBucket.Arn}/curated/*"],
    });
    for (const key of written) expect(covers(allowedOn("s3:PutObject"), key), key).toBe(true);
    // A source's figures are a multipart upload (publishSource), aborted when it fails; a forgotten source's are
    // deleted.
    for (const key of written.slice(1)) {
      expect(covers(allowedOn("s3:AbortMultipartUpload"), key), key).toBe(true);
      expect(covers(allowedOn("s3:DeleteObject"), key), key).toBe(true);
    }
    // The analysts' table reads what this writes.
    expect(partitionFolder("DeathsByVehicleTable")).toBe(
      inBucket(folderOf(curatedFiguresKey("${source}", "json"))),
    );
  });

  it("may read back the rejects objects the report explains, and no other object it does not need", () => {
    const statement = statements.find((candidate) => candidate.Sid === "ReadRejectsForReport");
    expect(statement).toEqual({
      Sid: "ReadRejectsForReport",
      Effect: "Allow",
      Action: ["s3:GetObject"],
      Resource: ["${DataBucket.Arn}/rejects/*"],
    });
    expect(covers(allowedOn("s3:GetObject"), rejectsKey(source, "20260101T000000000Z-abc123"))).toBe(true);
    // The clean copies (the deaths step) and the rejects (the report): never the curated zone, raw/ or the whole bucket.
    expect(allowedOn("s3:GetObject").sort()).toEqual([
      "${DataBucket.Arn}/clean/*",
      "${DataBucket.Arn}/rejects/*",
    ]);
    for (const key of written) expect(covers(allowedOn("s3:GetObject"), key), key).toBe(false);
  });

  it("is what the state machine's PublishCurated task invokes", () => {
    const machine = Object.values(resources).find(
      (resource) => resource.Type === "AWS::Serverless::StateMachine",
    )?.Properties as JsonObject;
    const definition = JSON.parse(readFileSync(join(root, String(machine.DefinitionUri)), "utf8")) as {
      States: Record<string, JsonObject>;
    };
    const task = definition.States.PublishCurated as JsonObject;
    expect(task.Type).toBe("Task");
    const placeholder = /^\$\{(\w+)\}$/.exec(String(task.Resource))?.[1] as string;
    expect((machine.DefinitionSubstitutions as JsonObject)[placeholder]).toEqual({
      "Fn::GetAtt": ["DeathsFunction", "Arn"],
    });
  });
});

type Widget = { type: string; properties: JsonObject };

describe("template.yaml: dashboard", () => {
  const body = text(properties("PipelineDashboard").DashboardBody);
  // CloudFormation's substitution, with each reference kept recognisable: `${Name}` → `<Name>`.
  const substituted = body.replace(/\$\{([^}!][^}]*)\}/g, "<$1>");
  const dashboard = JSON.parse(substituted) as { widgets: Widget[] };
  const metricRows = dashboard.widgets
    .filter((widget) => widget.type === "metric")
    .flatMap((widget) => widget.properties.metrics as Json[][]);
  /** Each plotted metric as `namespace name dim=value …` (a trailing options object dropped). */
  const plotted = metricRows
    .filter((row) => typeof row[0] === "string")
    .map((row) => {
      const [namespace, name, ...rest] = row.filter((part) => typeof part === "string") as string[];
      const dimensions = [];
      for (let i = 0; i < rest.length; i += 2) dimensions.push(`${rest[i]}=${rest[i + 1]}`);
      return [namespace, name, ...dimensions].join(" ");
    });

  it("is a Sub of valid JSON referencing only resources and pseudo parameters that exist", () => {
    expect(dashboard.widgets.length).toBeGreaterThan(4);
    for (const reference of subReferences(body)) {
      const name = reference.split(".")[0] as string;
      expect(name.startsWith("AWS::") || name in resources, reference).toBe(true);
    }
  });

  it("plots the state machine's executions and their time", () => {
    for (const metric of [
      "ExecutionsStarted",
      "ExecutionsSucceeded",
      "ExecutionsFailed",
      "ExecutionsTimedOut",
      "ExecutionTime",
    ]) {
      expect(plotted, metric).toContain(`AWS/States ${metric} StateMachineArn=<PipelineStateMachine>`);
    }
  });

  it("plots each pipeline function's errors and duration", () => {
    for (const fn of ["IngestFunction", "DeathsFunction"]) {
      for (const metric of ["Errors", "Duration"]) {
        expect(plotted, `${fn} ${metric}`).toContain(`AWS/Lambda ${metric} FunctionName=<${fn}>`);
      }
    }
  });

  it("plots every run figure the functions emit, with the dimensions they emit it under", () => {
    const emitted = Object.keys(RUN_METRICS);
    const custom = plotted.filter((line) => line.startsWith(`${METRICS_NAMESPACE} `));
    expect(custom.map((line) => line.split(" ")[1]).sort()).toEqual([...emitted].sort());
    for (const line of custom) {
      // service is the step (Powertools' default dimension), the function's name the second one.
      expect(line).toMatch(
        new RegExp(
          `^${METRICS_NAMESPACE} \\w+ service=(ingest|deaths) ${FUNCTION_DIMENSION}=<(Ingest|Deaths)Function>$`,
        ),
      );
      const step = /service=(\w+)/.exec(line)?.[1] as string;
      expect(line).toContain(`<${step === "ingest" ? "Ingest" : "Deaths"}Function>`);
    }
  });

  it("shows failures by error name, and each run's figures per source from the EMF lines", () => {
    const expressions = metricRows.flatMap((row) =>
      row.filter(isObject).map((part) => String((part as JsonObject).expression ?? "")),
    );
    const search = expressions.find((expression) => expression.includes(`MetricName="${ERROR_METRIC}"`));
    expect(search).toContain(`{${METRICS_NAMESPACE},error,${FUNCTION_DIMENSION},service}`);
    const log = dashboard.widgets.find((widget) => widget.type === "log");
    expect(String(log?.properties.query)).toContain("SOURCE '<DeathsFunctionLogGroup>'");
    for (const name of ["RowsRead", "RowsRejected", "source"])
      expect(String(log?.properties.query)).toContain(name);
  });

  it("uses the namespace the functions emit to (no function overrides it)", () => {
    for (const { value } of [{ value: template.Globals as Json }, { value: resources as Json }]) {
      expect(JSON.stringify(value)).not.toContain("POWERTOOLS_METRICS_NAMESPACE");
    }
  });

  it("is backed by an alarm on failed executions", () => {
    const alarm = Object.values(resources).find(
      (resource) =>
        resource.Type === "AWS::CloudWatch::Alarm" &&
        (resource.Properties as JsonObject).MetricName === "ExecutionsFailed",
    );
    expect((alarm?.Properties as JsonObject | undefined)?.Dimensions).toEqual([
      { Name: "StateMachineArn", Value: { Ref: "PipelineStateMachine" } },
    ]);
  });
});
