import { ConfiguredRetryStrategy, StandardRetryStrategy } from "@smithy/core/retry";
import { describe, expect, it } from "vitest";
import { createS3Client } from "./adapters/object-store.js";
import { loadDeathsConfig, loadDownloadConfig, loadStorageConfig } from "./config.js";

describe("loadDeathsConfig: MAX_REJECT_SHARE", () => {
  it("defaults to 0.05", () => {
    expect(loadDeathsConfig({})).toEqual({ maxRejectShare: 0.05 });
  });

  it.each([
    ["0", 0],
    ["1", 1],
    ["0.05", 0.05],
    [".5", 0.5],
    [" 0.2 ", 0.2],
    ["1.0", 1],
  ])("reads %j as %d", (text, value) => {
    expect(loadDeathsConfig({ MAX_REJECT_SHARE: text }).maxRejectShare).toBe(value);
  });

  // "" would be 0 under a plain number coercion: every file with a single reject would then fail.
  it.each(["", "2", "1.01", "-0.1", "5%", "abc", "0x1", "5e-2", "Infinity"])(
    "refuses %j as a ConfigError naming the variable",
    (text) => {
      expect(() => loadDeathsConfig({ MAX_REJECT_SHARE: text })).toThrow(
        expect.objectContaining({
          name: "ConfigError",
          message: expect.stringContaining("MAX_REJECT_SHARE: must be a number from 0 to 1"),
        }),
      );
    },
  );
});

describe("loadDownloadConfig: DOWNLOAD_MAX_BYTES", () => {
  it("defaults to 1 GiB", () => {
    expect(loadDownloadConfig({}).maxBytes).toBe(1024 ** 3);
  });

  it("reads a whole number of bytes", () => {
    expect(loadDownloadConfig({ DOWNLOAD_MAX_BYTES: "5000000" }).maxBytes).toBe(5_000_000);
  });

  it.each(["", "0", "-1", "1e9", "1GB", "1.5", "99999999999999999999"])(
    "refuses %j as a ConfigError",
    (text) => {
      expect(() => loadDownloadConfig({ DOWNLOAD_MAX_BYTES: text })).toThrow(
        expect.objectContaining({
          name: "ConfigError",
          message: expect.stringContaining("DOWNLOAD_MAX_BYTES"),
        }),
      );
    },
  );
});

describe("loadDownloadConfig: link safety", () => {
  it("reaches public addresses only, any host, by default", () => {
    expect(loadDownloadConfig({})).toMatchObject({ addressPolicy: "public", allowedHosts: [] });
  });

  it("allows private addresses only when told, and reads the host allow-list", () => {
    const config = loadDownloadConfig({
      DOWNLOAD_ALLOW_PRIVATE_HOSTS: "true",
      DOWNLOAD_ALLOWED_HOSTS: " Dados.ANTT.gov.br, ,files.example ",
    });
    expect(config).toMatchObject({
      addressPolicy: "private",
      allowedHosts: ["dados.antt.gov.br", "files.example"],
    });
  });

  it("refuses a switch that is not true or false", () => {
    expect(() => loadDownloadConfig({ DOWNLOAD_ALLOW_PRIVATE_HOSTS: "yes" })).toThrow(
      expect.objectContaining({ name: "ConfigError" }),
    );
  });
});

describe("loadDownloadConfig: DOWNLOAD_RETRY_AFTER_MAX_MS", () => {
  it("waits up to 30 s for a Retry-After by default, and reads another value", () => {
    expect(loadDownloadConfig({}).maxRetryAfterMs).toBe(30_000);
    expect(loadDownloadConfig({ DOWNLOAD_RETRY_AFTER_MAX_MS: "0" }).maxRetryAfterMs).toBe(0);
  });

  it("refuses more than ten minutes", () => {
    expect(() => loadDownloadConfig({ DOWNLOAD_RETRY_AFTER_MAX_MS: "600001" })).toThrow(
      expect.objectContaining({ name: "ConfigError" }),
    );
  });
});

describe("loadStorageConfig: S3_MAX_ATTEMPTS", () => {
  const env = { ROADTOLL_BUCKET: "bucket" };

  it("defaults to 5 attempts", () => {
    expect(loadStorageConfig(env).maxAttempts).toBe(5);
  });

  it.each([
    ["1", 1],
    ["3", 3],
    [" 10 ", 10],
  ])("reads %j as %d", (text, value) => {
    expect(loadStorageConfig({ ...env, S3_MAX_ATTEMPTS: text }).maxAttempts).toBe(value);
  });

  it.each(["", "0", "11", "-1", "2.5", "abc", "1e1", "05"])(
    "refuses %j as a ConfigError naming the variable",
    (text) => {
      expect(() => loadStorageConfig({ ...env, S3_MAX_ATTEMPTS: text })).toThrow(
        expect.objectContaining({
          name: "ConfigError",
          message: expect.stringContaining("S3_MAX_ATTEMPTS: must be a whole number from 1 to 10"),
        }),
      );
    },
  );

  it("never takes a retry strategy from the environment: the client keeps the SDK's standard one", async () => {
    const s3 = createS3Client(
      loadStorageConfig({ ...env, S3_RETRY_DELAY_MS: "1", AWS_RETRY_MODE: "adaptive" }),
    );
    const strategy = await s3.config.retryStrategy();
    expect(strategy).toBeInstanceOf(StandardRetryStrategy);
    expect(strategy).not.toBeInstanceOf(ConfiguredRetryStrategy);
  });
});

describe("loadStorageConfig: S3_TIMEOUT_MS", () => {
  const env = { ROADTOLL_BUCKET: "bucket" };

  it("defaults to 60 s and reads milliseconds", () => {
    expect(loadStorageConfig(env).timeoutMs).toBe(60_000);
    expect(loadStorageConfig({ ...env, S3_TIMEOUT_MS: "2500" }).timeoutMs).toBe(2_500);
  });

  it.each(["0", "50", "abc", "1.5"])("refuses %j as a ConfigError naming the variable", (text) => {
    expect(() => loadStorageConfig({ ...env, S3_TIMEOUT_MS: text })).toThrow(/S3_TIMEOUT_MS/);
  });
});
