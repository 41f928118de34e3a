import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type CloudFormationResponse, putResponse } from "../../src/adapters/cloudformation-response.js";
import { handleMigrationEvent, type MigrationDeps } from "../../src/handlers/migrate-handler.js";

const root = resolve(import.meta.dirname, "../..");

interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: CloudFormationResponse;
}

// Stands in for the pre-signed S3 URL CloudFormation hands out; status codes can be queued per request.
let server: Server;
let baseUrl: string;
let received: Received[] = [];
let statuses: number[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const status = statuses.shift() ?? 200;
      if (status === 200) {
        received.push({
          method: request.method,
          url: request.url,
          headers: request.headers,
          body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as CloudFormationResponse,
        });
      }
      response.writeHead(status).end(status === 200 ? "" : "<Error>SlowDown</Error>");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.close();
  await once(server, "close");
});

beforeEach(() => {
  received = [];
  statuses = [];
});

function cloudFormationEvent(
  requestType: "Create" | "Update" | "Delete",
  extra: Record<string, unknown> = {},
) {
  return {
    RequestType: requestType,
    ServiceToken: "arn:aws:lambda:us-east-1:123456789012:function:roadtoll-MigrateFunction",
    ResponseURL: `${baseUrl}/cloudformation-response?X-Amz-Signature=abc`,
    StackId: "arn:aws:cloudformation:us-east-1:123456789012:stack/roadtoll/1b2c3d",
    RequestId: "9f1e2d3c-request",
    LogicalResourceId: "DatabaseMigrations",
    ResourceType: "Custom::Migrations",
    ResourceProperties: { ServiceToken: "arn:…", MigrationsVersion: "abc123" },
    ...extra,
  };
}

function deps(overrides: Partial<MigrationDeps> = {}): MigrationDeps & { migrate: ReturnType<typeof vi.fn> } {
  return {
    migrate: vi.fn(async () => ({ applied: ["0001-create-deaths-by-vehicle"] })),
    respond: putResponse,
    ...overrides,
  } as MigrationDeps & { migrate: ReturnType<typeof vi.fn> };
}

describe("handleMigrationEvent with a CloudFormation event", () => {
  it("migrates on Create and PUTs SUCCESS with an empty Content-Type", async () => {
    const d = deps();
    await handleMigrationEvent(cloudFormationEvent("Create"), d);

    expect(d.migrate).toHaveBeenCalledOnce();
    expect(received).toHaveLength(1);
    const [put] = received as [Received];
    expect(put.method).toBe("PUT");
    expect(put.url).toBe("/cloudformation-response?X-Amz-Signature=abc");
    // The pre-signed URL is signed for an empty Content-Type; anything else fails with 403 on S3.
    expect(put.headers["content-type"]).toBe("");
    expect(put.body).toEqual({
      Status: "SUCCESS",
      PhysicalResourceId: "roadtoll-database-migrations",
      StackId: "arn:aws:cloudformation:us-east-1:123456789012:stack/roadtoll/1b2c3d",
      RequestId: "9f1e2d3c-request",
      LogicalResourceId: "DatabaseMigrations",
      NoEcho: false,
      Data: { AppliedCount: "1", Applied: "0001-create-deaths-by-vehicle" },
    });
  });

  it("names the app user it made in the response Data, never its password", async () => {
    const d = deps({ migrate: vi.fn(async () => ({ applied: [], appUser: "roadtoll_app" })) });
    await handleMigrationEvent(cloudFormationEvent("Update"), d);
    expect((received[0] as Received).body).toMatchObject({
      Status: "SUCCESS",
      Data: { AppliedCount: "0", Applied: "", AppUser: "roadtoll_app" },
    });
  });

  it("migrates on Update and keeps the physical id, so CloudFormation does not delete the old one", async () => {
    const d = deps({ migrate: vi.fn(async () => ({ applied: [] })) });
    await handleMigrationEvent(cloudFormationEvent("Update", { PhysicalResourceId: "existing-id" }), d);

    expect(d.migrate).toHaveBeenCalledOnce();
    expect(received[0]?.body).toMatchObject({
      Status: "SUCCESS",
      PhysicalResourceId: "existing-id",
      Data: { AppliedCount: "0" },
    });
  });

  it("answers FAILED with the error as Reason when a migration throws", async () => {
    const failure = Object.assign(new Error("migration 0002-add-index failed: relation exists"), {
      name: "MigrationError",
    });
    const d = deps({
      migrate: vi.fn(async () => Promise.reject(failure)),
      logStreamName: "2026/01/01/[$LATEST]abc",
    });
    await handleMigrationEvent(cloudFormationEvent("Create"), d);

    expect(received).toHaveLength(1);
    expect(received[0]?.body).toMatchObject({
      Status: "FAILED",
      PhysicalResourceId: "roadtoll-database-migrations",
      Reason:
        "MigrationError: migration 0002-add-index failed: relation exists (log stream 2026/01/01/[$LATEST]abc)",
    });
  });

  it("answers FAILED when the migration outlives its time budget, instead of leaving the stack waiting", async () => {
    const d = deps({ migrate: vi.fn(() => new Promise<never>(() => {})), timeoutMs: 50 });
    await handleMigrationEvent(cloudFormationEvent("Update", { PhysicalResourceId: "existing-id" }), d);

    expect(received[0]?.body.Status).toBe("FAILED");
    expect(received[0]?.body.Reason).toMatch(/did not finish within/);
  });

  it("answers SUCCESS on Delete without touching the database", async () => {
    const d = deps();
    await handleMigrationEvent(cloudFormationEvent("Delete", { PhysicalResourceId: "existing-id" }), d);

    expect(d.migrate).not.toHaveBeenCalled();
    expect(received[0]?.body).toMatchObject({ Status: "SUCCESS", PhysicalResourceId: "existing-id" });
  });

  it("answers FAILED to a malformed event that still carries a ResponseURL", async () => {
    const d = deps();
    await handleMigrationEvent(cloudFormationEvent("Create", { RequestType: "Replace" }), d);

    expect(d.migrate).not.toHaveBeenCalled();
    expect(received[0]?.body.Status).toBe("FAILED");
    expect(received[0]?.body.Reason).toMatch(/invalid custom resource event/);
  });

  it("keeps the response body under CloudFormation's 4 KiB limit", async () => {
    const many = Array.from(
      { length: 400 },
      (_, i) => `${String(i).padStart(4, "0")}-a-rather-long-migration-name`,
    );
    const d = deps({ migrate: vi.fn(async () => ({ applied: many })) });
    await handleMigrationEvent(cloudFormationEvent("Create"), d);
    expect(JSON.stringify(received[0]?.body).length).toBeLessThan(4096);
    expect(received[0]?.body.Data?.AppliedCount).toBe("400");

    const hugeError = new Error("x".repeat(10_000));
    await handleMigrationEvent(
      cloudFormationEvent("Create"),
      deps({ migrate: vi.fn(() => Promise.reject(hugeError)) }),
    );
    expect(JSON.stringify(received[1]?.body).length).toBeLessThan(4096);
  });

  it("parses the sample event in events/migrate.json", async () => {
    const sample = JSON.parse(readFileSync(join(root, "events/migrate.json"), "utf8")) as Record<
      string,
      unknown
    >;
    const d = deps({ respond: vi.fn(async () => {}) });
    const result = await handleMigrationEvent(sample, d);
    expect(d.migrate).toHaveBeenCalledOnce();
    expect(result).toMatchObject({ Status: "SUCCESS", LogicalResourceId: sample.LogicalResourceId });
  });
});

describe("handleMigrationEvent invoked directly", () => {
  it.each([{}, { action: "migrate" }, null])("migrates and returns the report for %j", async (event) => {
    const d = deps({ respond: vi.fn(async () => {}) });
    await expect(handleMigrationEvent(event, d)).resolves.toEqual({
      applied: ["0001-create-deaths-by-vehicle"],
    });
    expect(d.respond).not.toHaveBeenCalled();
  });

  it("accepts events/migrate-direct.json", async () => {
    const sample = JSON.parse(readFileSync(join(root, "events/migrate-direct.json"), "utf8")) as unknown;
    await expect(handleMigrationEvent(sample, deps())).resolves.toHaveProperty("applied");
  });

  it("propagates a migration failure so the invocation reports an error", async () => {
    const d = deps({ migrate: vi.fn(() => Promise.reject(new Error("boom"))) });
    await expect(handleMigrationEvent({}, d)).rejects.toThrow("boom");
  });

  it("rejects anything that is neither a CloudFormation event nor a migrate action", async () => {
    const d = deps();
    await expect(handleMigrationEvent({ action: "drop" }, d)).rejects.toThrow(TypeError);
    expect(d.migrate).not.toHaveBeenCalled();
  });
});

describe("putResponse", () => {
  const body: CloudFormationResponse = {
    Status: "SUCCESS",
    PhysicalResourceId: "id",
    StackId: "stack",
    RequestId: "request",
    LogicalResourceId: "DatabaseMigrations",
    NoEcho: false,
  };

  it("retries a 5xx from S3", async () => {
    statuses = [503];
    await putResponse(`${baseUrl}/retry`, body);
    expect(received).toHaveLength(1);
  });

  it("does not retry a 4xx, which no retry can fix", async () => {
    statuses = [403, 200];
    await expect(putResponse(`${baseUrl}/expired`, body)).rejects.toThrow(/HTTP 403/);
    expect(statuses).toEqual([200]);
  });
});
