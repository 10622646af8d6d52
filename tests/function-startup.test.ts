import { describe, expect, it } from "vitest";
import { serveEdgeFunction } from "../local/edge-function.ts";

describe("the function's start-up", () => {
  it("fails at once with the names of missing variables, not on the first message", async () => {
    const started = serveEdgeFunction({
      name: "ai-responder",
      env: { SUPABASE_URL: "http://127.0.0.1:1", SUPABASE_SERVICE_ROLE_KEY: "k" },
    });
    await expect(started).rejects.toThrow(/AI_RESPONDER_WEBHOOK_SECRET: missing; GROQ_API_KEY: missing/);
  });
});
