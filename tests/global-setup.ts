// Fetches the function's npm dependencies into Deno's cache once, before any stack starts,
// so that parallel test files do not all download them at the same time.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { DENO_TLS_ENV, denoPath } from "../local/edge-function.ts";

export default function setup(): void {
  execFileSync(denoPath(), ["install", "--node-modules-dir=none", "--entrypoint", "index.ts"], {
    cwd: join(import.meta.dirname, "..", "supabase", "functions", "ai-responder"),
    stdio: "inherit",
    env: { ...process.env, ...DENO_TLS_ENV, NO_COLOR: "1" },
  });
}
