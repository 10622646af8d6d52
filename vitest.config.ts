import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    globalSetup: ["tests/global-setup.ts"],
    // Each integration file starts its own stack (PostgreSQL, Deno...): generous limits
    // so that a loaded 2-core machine passes too; waits inside tests are bounded polls.
    testTimeout: 60_000,
    hookTimeout: 240_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
