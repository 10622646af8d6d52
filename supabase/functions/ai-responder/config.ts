import { z } from "zod";

/** Everything the function reads from its environment, checked once at start-up. */
export type ResponderConfig = {
  supabaseUrl: string;
  supabaseKey: string;
  webhookSecret: string;
  groq: {
    apiKey: string;
    baseURL: string;
    defaultModel: string;
    /** One LLM attempt, waiting for the whole answer. */
    timeoutMs: number;
    maxRetries: number;
    /** All attempts and retry waits together; well inside the Edge Function's wall clock. */
    deadlineMs: number;
  };
};

export class ConfigError extends Error {}

const milliseconds = (fallback: number) =>
  z.coerce.number().int().min(1).max(300_000).default(fallback);

const Env = z.object({
  SUPABASE_URL: z.url(),
  SUPABASE_SECRET_KEYS: z.string().optional(),
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(1).optional(),
  AI_RESPONDER_WEBHOOK_SECRET: z.string().min(16, "must be at least 16 characters"),
  GROQ_API_KEY: z.string().min(1),
  GROQ_BASE_URL: z.url().default("https://api.groq.com/openai/v1"),
  GROQ_MODEL: z.string().min(1).default("openai/gpt-oss-20b"),
  GROQ_TIMEOUT_MS: milliseconds(15_000),
  GROQ_MAX_RETRIES: z.coerce.number().int().min(0).max(5).default(2),
  AI_RESPONDER_LLM_DEADLINE_MS: milliseconds(40_000),
});

const SecretKeys = z.record(z.string(), z.string());

/** Reads the configuration; a missing or malformed variable is a ConfigError naming it. */
export function configFromEnv(get: (name: string) => string | undefined): ResponderConfig {
  const raw = Object.fromEntries(
    Object.keys(Env.shape).map((name) => [name, get(name) || undefined]),
  );
  const parsed = Env.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = issue.path.join(".");
      return `${name}: ${raw[name] === undefined ? "missing" : issue.message}`;
    });
    throw new ConfigError(`ai-responder configuration: ${problems.join("; ")}`);
  }
  const env = parsed.data;
  return {
    supabaseUrl: env.SUPABASE_URL,
    supabaseKey: serviceKey(env.SUPABASE_SECRET_KEYS, env.SUPABASE_SERVICE_ROLE_KEY),
    webhookSecret: env.AI_RESPONDER_WEBHOOK_SECRET,
    groq: {
      apiKey: env.GROQ_API_KEY,
      baseURL: env.GROQ_BASE_URL,
      defaultModel: env.GROQ_MODEL,
      timeoutMs: env.GROQ_TIMEOUT_MS,
      maxRetries: env.GROQ_MAX_RETRIES,
      deadlineMs: env.AI_RESPONDER_LLM_DEADLINE_MS,
    },
  };
}

/** The platform injects SUPABASE_SECRET_KEYS (new keys) and SUPABASE_SERVICE_ROLE_KEY (legacy). */
function serviceKey(secretKeys: string | undefined, serviceRoleKey: string | undefined): string {
  if (secretKeys) {
    let keys: Record<string, string> | undefined;
    try {
      keys = SecretKeys.parse(JSON.parse(secretKeys));
    } catch {
      throw new ConfigError(
        'ai-responder configuration: SUPABASE_SECRET_KEYS must be JSON like {"default":"sb_secret_..."}',
      );
    }
    if (keys.default) return keys.default;
  }
  if (serviceRoleKey) return serviceRoleKey;
  throw new ConfigError(
    "ai-responder configuration: SUPABASE_SECRET_KEYS (with a default key) or SUPABASE_SERVICE_ROLE_KEY: missing",
  );
}
