import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "tests/**/*.test.ts"],
    // Integration tests start s3rver, PGlite and HTTP servers; a generous timeout avoids flakes on 2-core CI.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each file gets its own servers on ephemeral ports, so files can run in parallel safely.
    fileParallelism: true,
    reporters: ["default"],
  },
});
