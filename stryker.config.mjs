// `npm run mutate`: StrykerJS mutation testing of the ai-responder function's code (and the
// stand-ins' pure decision code), against the unit tests, which run that code in-process.
// Integration tests run the function in a Deno process that Stryker cannot see into, so they
// are left out here; tests/README.md maps the SQL's rules to the tests that guard them.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutate.config.ts" },
  plugins: ["@stryker-mutator/vitest-runner"],
  mutate: [
    "supabase/functions/ai-responder/**/*.ts",
    "!supabase/functions/ai-responder/index.ts",
    "local/api-request.ts",
    "local/rest/query-params.ts",
    "local/realtime/serializer.ts",
  ],
  coverageAnalysis: "perTest",
  reporters: ["clear-text", "progress", "html"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  thresholds: { high: 90, low: 80, break: null },
  concurrency: 2,
  tempDirName: ".stryker-tmp",
};
