import * as z from "zod";
import type { DownloadConfig } from "./adapters/http-download.js";
import { DEFAULT_DOWNLOAD_DEADLINE_MS } from "./adapters/http-download.js";
import {
  DEFAULT_S3_MAX_ATTEMPTS,
  DEFAULT_S3_TIMEOUT_MS,
  type StorageConfig,
} from "./adapters/object-store.js";
import type { DatabaseConfig } from "./db/database.js";
import { DEFAULT_DOWNLOAD_MAX_BYTES } from "./defaults.js";
import { RoadtollError } from "./errors.js";
import { DEFAULT_MAX_REJECT_SHARE } from "./pipeline/reject-gate.js";
import { describeIssues } from "./zod-issues.js";

const flag = z
  .enum(["true", "false", "1", "0"])
  .optional()
  .transform((value) => value === "true" || value === "1");

const storageSchema = z.object({
  ROADTOLL_BUCKET: z.string().min(3, "ROADTOLL_BUCKET must name the S3 bucket"),
  AWS_REGION: z.string().default("us-east-1"),
  S3_ENDPOINT: z.url().optional(),
  S3_FORCE_PATH_STYLE: flag,
  S3_MAX_ATTEMPTS: z
    .string()
    .trim()
    .regex(/^([1-9]|10)$/, "must be a whole number from 1 to 10")
    .transform(Number)
    .optional(),
  S3_TIMEOUT_MS: z.coerce.number().int().min(100).optional(),
});

export function loadStorageConfig(env: NodeJS.ProcessEnv = process.env): StorageConfig {
  const parsed = parseEnv(storageSchema, env);
  return {
    bucket: parsed.ROADTOLL_BUCKET,
    region: parsed.AWS_REGION,
    endpoint: parsed.S3_ENDPOINT,
    forcePathStyle: parsed.S3_FORCE_PATH_STYLE || parsed.S3_ENDPOINT !== undefined,
    maxAttempts: parsed.S3_MAX_ATTEMPTS ?? DEFAULT_S3_MAX_ATTEMPTS,
    timeoutMs: parsed.S3_TIMEOUT_MS ?? DEFAULT_S3_TIMEOUT_MS,
  };
}

/** A whole number of bytes, ≥ 1, written as plain digits (no exponent, no unit). */
export const byteCountSchema = z
  .string()
  .trim()
  .regex(/^[1-9][0-9]*$/, "must be a whole number of bytes, 1 or more")
  .transform(Number)
  .refine(Number.isSafeInteger, "is too large");

const downloadSchema = z.object({
  DOWNLOAD_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  DOWNLOAD_DEADLINE_MS: z.coerce.number().int().min(1000).default(DEFAULT_DOWNLOAD_DEADLINE_MS),
  DOWNLOAD_MAX_BYTES: byteCountSchema.optional(),
  DOWNLOAD_ALLOW_PRIVATE_HOSTS: flag,
  DOWNLOAD_RETRY_AFTER_MAX_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
  DOWNLOAD_ALLOWED_HOSTS: z.string().optional(),
  DOWNLOAD_MAX_REDIRECTS: z.coerce.number().int().min(0).max(20).default(5),
  LINKS_FILE: z.string().optional(),
  LINKS_S3_KEY: z.string().min(1).default("config/link.yml"),
  LAMBDA_TASK_ROOT: z.string().optional(),
});

export function loadDownloadConfig(env: NodeJS.ProcessEnv = process.env): DownloadConfig {
  const parsed = parseEnv(downloadSchema, env);
  const root = parsed.LAMBDA_TASK_ROOT ?? process.cwd();
  return {
    timeoutMs: parsed.DOWNLOAD_TIMEOUT_MS,
    deadlineMs: parsed.DOWNLOAD_DEADLINE_MS,
    maxRedirects: parsed.DOWNLOAD_MAX_REDIRECTS,
    maxBytes: parsed.DOWNLOAD_MAX_BYTES ?? DEFAULT_DOWNLOAD_MAX_BYTES,
    maxRetryAfterMs: parsed.DOWNLOAD_RETRY_AFTER_MAX_MS,
    addressPolicy: parsed.DOWNLOAD_ALLOW_PRIVATE_HOSTS ? "private" : "public",
    allowedHosts: (parsed.DOWNLOAD_ALLOWED_HOSTS ?? "")
      .split(",")
      .map((host) => host.trim().toLowerCase())
      .filter((host) => host !== ""),
    linksFile: parsed.LINKS_FILE ?? `${root}/link.yml`,
    linksKey: parsed.LINKS_S3_KEY,
  };
}

const SHARE_PROBLEM = "must be a number from 0 to 1, e.g. 0.05";

/**
 * A share of rows written as a plain decimal from 0 to 1 ("0.05", "1", ".5"). Anything else fails, including an
 * empty string, which a bare number coercion would silently read as 0 (and so fail every file).
 */
export const shareSchema = z
  .string()
  .trim()
  .regex(/^(\d+(\.\d*)?|\.\d+)$/, SHARE_PROBLEM)
  .transform(Number)
  .pipe(z.number().min(0, SHARE_PROBLEM).max(1, SHARE_PROBLEM));

/** A whole number of road-years, from 1; written plainly (`2500000`), as an environment variable holds it. */
export const roadYearsSchema = z
  .string()
  .trim()
  .regex(/^[1-9]\d{0,9}$/, "must be a whole number from 1")
  .transform(Number);

const deathsSchema = z.object({
  MAX_REJECT_SHARE: shareSchema.default(DEFAULT_MAX_REJECT_SHARE),
  MAX_ROAD_YEARS: roadYearsSchema.optional(),
});

export interface DeathsConfig {
  /** Rejected / read above this fails the deaths step (TooManyRejectsError) and writes nothing. */
  maxRejectShare: number;
  /** Distinct road-years above this fail the deaths step (TooManyRoadsError); undefined: the default. */
  maxRoadYears: number | undefined;
}

export function loadDeathsConfig(env: NodeJS.ProcessEnv = process.env): DeathsConfig {
  const config = parseEnv(deathsSchema, env);
  return { maxRejectShare: config.MAX_REJECT_SHARE, maxRoadYears: config.MAX_ROAD_YEARS };
}

const databaseSchema = z
  .object({
    DATABASE_URL: z.string().min(1).optional(),
    DATABASE_SECRET_ARN: z.string().startsWith("arn:").optional(),
    DATABASE_HOST: z.string().min(1).optional(),
    DATABASE_PORT: z.coerce.number().int().positive().default(5432),
    DATABASE_NAME: z.string().min(1).default("postgres"),
    DATABASE_SSL: z.enum(["require", "disable"]).default("require"),
  })
  .refine((env) => env.DATABASE_URL !== undefined || (env.DATABASE_SECRET_ARN && env.DATABASE_HOST), {
    message: "set DATABASE_URL, or DATABASE_SECRET_ARN and DATABASE_HOST",
  });

export function loadDatabaseConfig(env: NodeJS.ProcessEnv = process.env): DatabaseConfig {
  const parsed = parseEnv(databaseSchema, env);
  if (parsed.DATABASE_URL) return { kind: "url", url: parsed.DATABASE_URL };
  return {
    kind: "secret",
    secretArn: parsed.DATABASE_SECRET_ARN as string,
    host: parsed.DATABASE_HOST as string,
    port: parsed.DATABASE_PORT,
    database: parsed.DATABASE_NAME,
    ssl: parsed.DATABASE_SSL === "require",
    region: env.AWS_REGION ?? "us-east-1",
  };
}

const appUserSchema = z.object({
  DATABASE_APP_SECRET_ARN: z.string().startsWith("arn:").optional(),
});

/**
 * The migrate function's second secret: the login user the other functions connect as (made or updated on
 * every deploy, a member of roadtoll_writer only). Unset, no user is made: development and CI connect by URL.
 */
export function loadAppUserConfig(
  env: NodeJS.ProcessEnv = process.env,
): { secretArn: string; region: string } | undefined {
  const parsed = parseEnv(appUserSchema, env);
  if (!parsed.DATABASE_APP_SECRET_ARN) return undefined;
  return { secretArn: parsed.DATABASE_APP_SECRET_ARN, region: env.AWS_REGION ?? "us-east-1" };
}

/**
 * How long a presigned upload URL may work: short, since whoever holds it can put a file that starts a run. The
 * Lambda reads it from UPLOAD_URL_TTL_SECONDS, `roadtoll serve` from --upload-ttl.
 */
export const UPLOAD_URL_TTL = { minSeconds: 60, maxSeconds: 3600, defaultSeconds: 900 } as const;

const apiSchema = z.object({
  STATE_MACHINE_ARN: z
    .string()
    .regex(/^arn:[\w-]+:states:[\w-]+:\d{12}:stateMachine:[\w-]+$/, "must be a state machine's ARN"),
  UPLOAD_URL_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(UPLOAD_URL_TTL.minSeconds)
    .max(UPLOAD_URL_TTL.maxSeconds)
    .default(UPLOAD_URL_TTL.defaultSeconds),
  UPLOAD_MAX_BYTES: byteCountSchema.optional(),
});

export interface ApiConfig {
  stateMachineArn: string;
  /** How long a presigned upload URL works: short, since whoever holds it can put a file that starts a run. */
  uploadUrlTtlSeconds: number;
  /** The largest upload the API signs; the ingest step's own cap (DOWNLOAD_MAX_BYTES) applies as well. */
  uploadMaxBytes: number;
}

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const parsed = parseEnv(apiSchema, env);
  return {
    stateMachineArn: parsed.STATE_MACHINE_ARN,
    uploadUrlTtlSeconds: parsed.UPLOAD_URL_TTL_SECONDS,
    uploadMaxBytes: parsed.UPLOAD_MAX_BYTES ?? DEFAULT_DOWNLOAD_MAX_BYTES,
  };
}

function parseEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.output<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new RoadtollError(
    "ConfigError",
    `invalid configuration: ${describeIssues(result.error, "environment")}`,
    {
      cause: result.error,
    },
  );
}
