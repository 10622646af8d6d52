import { defineConfig } from "vitest/config";

// The unit tests alone, for `npm run mutate` (stryker.config.mjs): they run the function's
// code in-process, which is where Stryker can see which test covers which mutant.
export default defineConfig({
  test: {
    include: ["tests/unit/**/*.test.ts"],
    pool: "forks",
  },
});
