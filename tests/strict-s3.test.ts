import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStorage, type TestStorage } from "./support/storage.js";
import { type FunctionName, functionRole, samTranslatorAvailable } from "./support/template-roles.js";
import { skipNote, skipWithout } from "./support/tools.js";

/** The strict S3 front itself (tests/support/strict-s3.ts): it must refuse what S3 would, and only that. */

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: { name?: string; message?: string; $metadata?: { httpStatusCode?: number } }) => ({
      name: error.name,
      status: error.$metadata?.httpStatusCode,
      message: error.message,
    }),
  );

describe(`the strict S3 front (${process.env.ROADTOLL_TEST_S3 || "s3rver"} behind it)`, () => {
  let storage: TestStorage;

  beforeAll(async () => {
    storage = await startTestStorage();
    await storage.store.writeText("clean/Front/run.csv", "a;b\n", "text/csv");
  });
  afterAll(async () => {
    await storage?.close();
  });

  it("lets each role do what its policies allow", async () => {
    await storage.ingest.store.writeText("raw/Front/run.csv", "x", "text/csv");
    expect(await storage.bytes("raw/Front/run.csv")).toEqual(Buffer.from("x"));
    const body = await storage.deaths.store.read("clean/Front/run.csv");
    body.resume();
    expect(await storage.api.store.listKeys("run-index/Front/", 10)).toEqual([]);
  });

  it("answers 403 AccessDenied, naming the action, to a request the role's policies do not allow", async () => {
    // The ingest function writes raw/ and clean/, never curated/; the deaths function reads clean/, not raw/.
    const write = await failure(storage.ingest.store.writeText("curated/x.json", "{}", "application/json"));
    expect(write?.message).toMatch(/AccessDenied.*s3:PutObject/);
    const read = await failure(storage.deaths.store.read("raw/Front/run.csv"));
    expect(read?.message).toMatch(/AccessDenied.*s3:GetObject/);
    // The API may list the run index only (an s3:prefix condition).
    const list = await failure(storage.api.store.listKeys("raw/", 10));
    expect(list?.message).toMatch(/AccessDenied.*s3:ListBucket/);
    expect(storage.ingest.front.refused.map((seen) => seen.key)).toContain("curated/x.json");
  });

  it("answers a missing key 404 to a role with s3:ListBucket, 403 to one without", async () => {
    await expect(storage.ingest.store.read("state/Nobody.json")).rejects.toMatchObject({
      name: "ObjectNotFoundError",
    });
    const unlisted = await storage.as("IngestFunction", { withoutStatements: ["TellMissingKeysApart"] });
    const get = await failure(
      unlisted.s3.send(new GetObjectCommand({ Bucket: storage.bucket, Key: "state/Nobody.json" })),
    );
    expect(get).toMatchObject({ name: "AccessDenied", status: 403 });
    const head = await failure(
      unlisted.s3.send(new HeadObjectCommand({ Bucket: storage.bucket, Key: "state/Nobody.json" })),
    );
    expect(head?.status).toBe(403);
    // A key that is there reads the same either way.
    await storage.store.writeText("state/Somebody.json", "{}", "application/json");
    const present = await unlisted.s3.send(
      new GetObjectCommand({ Bucket: storage.bucket, Key: "state/Somebody.json" }),
    );
    expect(await present.Body?.transformToString()).toBe("{}");
  });

  it("refuses a body whose signed checksum does not match it, with S3's BadDigest", async () => {
    const put = (
      key: string,
      checksum: Partial<Record<"ChecksumCRC32" | "ChecksumCRC32C" | "ChecksumSHA256", string>>,
    ) =>
      failure(
        storage.ingest.s3.send(
          new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: "123456789", ...checksum }),
        ),
      );
    // Known answers for "123456789": CRC-32 cbf43926, CRC-32C e3069283.
    expect(await put("raw/Front/crc32.csv", { ChecksumCRC32: "y/Q5Jg==" })).toBeUndefined();
    expect(await put("raw/Front/crc32c.csv", { ChecksumCRC32C: "4waSgw==" })).toBeUndefined();
    expect(await put("raw/Front/bad-crc32.csv", { ChecksumCRC32: "AAAAAA==" })).toMatchObject({
      name: "BadDigest",
      status: 400,
      message: "The CRC32 you specified did not match the calculated checksum.",
    });
    expect(
      await put("raw/Front/bad-sha.csv", { ChecksumSHA256: Buffer.alloc(32).toString("base64") }),
    ).toMatchObject({
      name: "BadDigest",
    });
    expect(await storage.keys("raw/Front/bad")).toEqual([]);
  });
});

const noTranslator =
  !samTranslatorAvailable() && "python3 has no samtranslator (pip install aws-sam-translator)";
describe.skipIf(skipWithout(noTranslator))(`the roles the front enforces${skipNote(noTranslator)}`, () => {
  const functions: FunctionName[] = ["IngestFunction", "DeathsFunction", "ApiFunction", "MigrateFunction"];

  it.each(functions)(
    "%s: the SAM transform's role policies equal the template's inline statements",
    (name) => {
      const options = { bucket: "roadtoll-test" };
      expect(functionRole(name, { ...options, from: "transform" }).identityPolicies).toEqual(
        functionRole(name, { ...options, from: "source" }).identityPolicies,
      );
    },
  );

  it("resolves every resource to the test bucket's ARN or a non-S3 ARN", () => {
    const resources = functions.flatMap((name) =>
      functionRole(name, { bucket: "roadtoll-test" }).identityPolicies.flatMap(({ policy }) =>
        policy.Statement.flatMap((statement) => [statement.Resource].flat().map(String)),
      ),
    );
    for (const resource of resources) {
      expect(resource).not.toMatch(/\$\{|Fn::|"Ref"/);
      if (resource.startsWith("arn:aws:s3:")) expect(resource).toMatch(/^arn:aws:s3:::roadtoll-test(\/|$)/);
    }
  });
});
