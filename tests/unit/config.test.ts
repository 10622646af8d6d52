import { describe, expect, it } from "vitest";
import { configFromEnv } from "../../supabase/functions/ai-responder/config.ts";

const base = {
  SUPABASE_URL: "https://ref.supabase.co",
  SUPABASE_SERVICE_ROLE_KEY: "legacy-service-role-key",
  AI_RESPONDER_WEBHOOK_SECRET: "a-webhook-secret-long-enough",
  GROQ_API_KEY: "test-groq-key",
};
const from = (env: Record<string, string | undefined>) => () => configFromEnv((name) => env[name]);

describe("configFromEnv", () => {
  it("applies documented defaults: Groq's URL, a current production model, bounded LLM time", () => {
    expect(configFromEnv((name) => base[name as keyof typeof base])).toMatchObject({
      supabaseKey: "legacy-service-role-key",
      groq: { baseURL: "https://api.groq.com/openai/v1", defaultModel: "openai/gpt-oss-20b", timeoutMs: 15_000, maxRetries: 2, deadlineMs: 40_000 },
    });
  });

  it("prefers the new secret key the platform injects in SUPABASE_SECRET_KEYS", () => {
    const config = configFromEnv((name) => ({ ...base, SUPABASE_SECRET_KEYS: '{"default":"new-secret-key"}' })[name]);
    expect(config.supabaseKey).toBe("new-secret-key");
  });

  it("names every missing variable at start-up", () => {
    expect(from({})).toThrow(
      "ai-responder configuration: SUPABASE_URL: missing; AI_RESPONDER_WEBHOOK_SECRET: missing; GROQ_API_KEY: missing",
    );
  });

  it("refuses a short webhook secret and a service key that is nowhere", () => {
    expect(from({ ...base, AI_RESPONDER_WEBHOOK_SECRET: "short" })).toThrow("AI_RESPONDER_WEBHOOK_SECRET: must be at least 16 characters");
    expect(from({ ...base, SUPABASE_SERVICE_ROLE_KEY: undefined })).toThrow("SUPABASE_SECRET_KEYS (with a default key) or SUPABASE_SERVICE_ROLE_KEY: missing");
    expect(from({ ...base, SUPABASE_SECRET_KEYS: "not json" })).toThrow("SUPABASE_SECRET_KEYS must be JSON");
  });
});

describe("configFromEnv's bounds", () => {
  it("falls back to the legacy key when SUPABASE_SECRET_KEYS has no default key", () => {
    expect(configFromEnv((name) => ({ ...base, SUPABASE_SECRET_KEYS: '{"other":"k2"}' })[name]).supabaseKey).toBe("legacy-service-role-key");
  });

  it("takes LLM times from 1 ms to 5 minutes, and 0 to 5 retries", () => {
    const config = configFromEnv((name) => ({ ...base, GROQ_TIMEOUT_MS: "1", AI_RESPONDER_LLM_DEADLINE_MS: "300000", GROQ_MAX_RETRIES: "5", GROQ_MODEL: "llama-3.3-70b-versatile" })[name]);
    expect(config.groq).toMatchObject({ timeoutMs: 1, deadlineMs: 300_000, maxRetries: 5, defaultModel: "llama-3.3-70b-versatile" });
    expect(configFromEnv((name) => ({ ...base, GROQ_MAX_RETRIES: "0" })[name]).groq.maxRetries).toBe(0);
    expect(from({ ...base, GROQ_TIMEOUT_MS: "0" })).toThrow(/^ai-responder configuration: GROQ_TIMEOUT_MS: /);
    expect(from({ ...base, AI_RESPONDER_LLM_DEADLINE_MS: "300001" })).toThrow(/^ai-responder configuration: AI_RESPONDER_LLM_DEADLINE_MS: /);
    expect(from({ ...base, GROQ_MAX_RETRIES: "6" })).toThrow(/^ai-responder configuration: GROQ_MAX_RETRIES: /);
  });
});
