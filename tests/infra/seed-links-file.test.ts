import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { motoServerPath, type RunningMoto, startMotoS3 } from "../support/moto-s3.js";
import { skipNote, skipWithout } from "../support/tools.js";
import { root } from "./bundle.js";

const run = promisify(execFile);
const awsCli = await run("aws", ["--version"]).then(
  () => true,
  () => false,
);
const missing = !motoServerPath()
  ? "moto_server is not installed"
  : !awsCli
    ? "the aws CLI is not installed"
    : "";

/** The release workflow's seeding of config/link.yml, run for real with the aws CLI against moto's S3. */
describe.skipIf(skipWithout(missing))(`scripts/seed-links-file.sh${skipNote(missing)}`, () => {
  let moto: RunningMoto;
  let s3: S3Client;
  const bucket = "roadtoll-seed-test";
  const credentials = { accessKeyId: "testing", secretAccessKey: "testing" };

  beforeAll(async () => {
    moto = await startMotoS3();
    s3 = new S3Client({ endpoint: moto.endpoint, region: "us-east-1", forcePathStyle: true, credentials });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }, 60_000);
  afterAll(async () => {
    s3?.destroy();
    await moto?.close();
  });

  const seed = (target = bucket) =>
    run(join(root, "scripts/seed-links-file.sh"), [target], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_DEFAULT_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      },
      timeout: 60_000,
    });
  const stored = async () =>
    (
      await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "config/link.yml" }))
    ).Body?.transformToString();

  it("puts the repository's link.yml there on the first release, and never overwrites the bucket's copy", async () => {
    const first = await seed();
    expect(first.stdout).toMatch(/^seeded s3:\/\/roadtoll-seed-test\/config\/link\.yml from link\.yml$/m);
    expect(await stored()).toBe(await readFile(join(root, "link.yml"), "utf8"));

    // Someone adds a source in the bucket; the next release must keep it.
    const edited = "Via_Nova: https://dados.antt.gov.br/dataset/via-nova.csv\n";
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "config/link.yml", Body: edited }));
    const second = await seed();
    expect(second.stdout).toMatch(/config\/link\.yml exists: left as it is/);
    expect(await stored()).toBe(edited);
  }, 120_000);

  it("fails, saying why, when the object cannot be written at all", async () => {
    const failure = await seed("no-such-bucket-here").then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failure?.code).not.toBe(0);
    expect(failure?.stderr).toMatch(/NoSuchBucket/);
  }, 120_000);
});
