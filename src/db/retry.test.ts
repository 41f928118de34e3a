import { describe, expect, it } from "vitest";
import { isTransientDatabaseFailure } from "./retry.js";

const withCode = (code: string) => Object.assign(new Error("x"), { code });

describe("isTransientDatabaseFailure", () => {
  it.each(["08006", "53300", "57P01", "40001", "ECONNREFUSED", "ETIMEDOUT", "EAI_AGAIN"])(
    "retries code %s",
    (code) => {
      expect(isTransientDatabaseFailure(withCode(code))).toBe(true);
    },
  );

  it.each(["23505", "42P01", "22P02"])("does not retry code %s", (code) => {
    expect(isTransientDatabaseFailure(withCode(code))).toBe(false);
  });

  it.each([
    "Connection terminated unexpectedly",
    "Connection terminated due to connection timeout",
    "timeout exceeded when trying to connect",
    "Client has encountered a connection error and is not queryable",
  ])("retries a codeless %j (pg's words for a lost connection)", (message) => {
    expect(isTransientDatabaseFailure(new Error(message))).toBe(true);
  });

  it.each([
    new Error("Cannot read properties of undefined"),
    new TypeError("x is not a function"),
    "boom",
    null,
  ])("does not retry an unknown error without a code: %s", (error) => {
    expect(isTransientDatabaseFailure(error)).toBe(false);
  });
});
