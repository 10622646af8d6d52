// The Docker-free local Supabase stack: real PostgreSQL with the project's migrations, the
// pg_net worker, the ai-responder function on real Deno, the API gateway, and (without a
// GROQ_API_KEY) the stand-in LLM. `npm start` runs it on Supabase's usual ports; tests and
// the benchmark start their own on free ports.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mkdtemp, rm } from "node:fs/promises";
import pg from "pg";
import { parse as parseToml } from "smol-toml";
import { type ApiKeys, makeApiKeys } from "./api-keys.ts";
import { createPool, type Database, startDatabase } from "./database.ts";
import { type EdgeFunction, serveEdgeFunction } from "./edge-function.ts";
import { type Gateway, startGateway } from "./gateway.ts";
import { createAuthService } from "./auth.ts";
import { createRestService } from "./rest.ts";
import { type Realtime, startRealtime } from "./realtime.ts";
import { startCronRunner } from "./cron-runner.ts";
import { startPgNetWorker } from "./pg-net-worker.ts";
import { type Pace, type StandInLlm, startStandInLlm } from "./stand-in-llm.ts";

const root = join(import.meta.dirname, "..");

export type StackOptions = {
  /** Where PostgreSQL keeps its data; a fresh temporary folder (removed on stop) if absent. */
  dataDir?: string;
  /** 0 or absent: a free port. */
  dbPort?: number;
  gatewayPort?: number;
  seed?: boolean;
  /** The project's API keys and JWT secret; fresh ones if absent. */
  keys?: ApiKeys;
  /** Real Groq when apiKey is set; otherwise the stand-in LLM. */
  groq?: { apiKey?: string; baseURL?: string; model?: string };
  webhookSecret?: string;
  /** Extra environment for the function (timeouts, retries...). */
  functionEnv?: Record<string, string>;
  llmPace?: Pace;
  /** Overrides of supabase/config.toml's [auth] settings (tests sign in more than 30 visitors an hour). */
  auth?: { enableAnonymousSignIns?: boolean; anonymousSignInsPerHour?: number; jwtExpirySeconds?: number };
  log?: (source: "postgres" | "function" | "worker" | "cron" | "realtime", line: string) => void;
};

export type Stack = {
  dbUrl: string;
  gatewayUrl: string;
  functionUrl: string;
  keys: ApiKeys;
  webhookSecret: string;
  /** The stand-in LLM, unless real Groq is used. */
  llm: StandInLlm | undefined;
  database: Database;
  edgeFunction: EdgeFunction;
  gateway: Gateway;
  /** The Realtime stand-in, stoppable and restartable as a fault would. */
  realtime: Realtime;
  /** The pg_net worker stand-in, stoppable so that queued webhooks stay queued. */
  pgNetWorker: Restartable;
  /** The pg_cron scheduler stand-in. */
  cronRunner: Restartable;
  /** A pool of postgres connections (the DB URL of `supabase status`: not a superuser), for tests and tools. */
  pool: pg.Pool;
  stop(): Promise<void>;
};

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    const keys = options.keys ?? (await makeApiKeys());
    const webhookSecret = options.webhookSecret ?? randomBytes(24).toString("base64url");

    let dataDir = options.dataDir;
    if (!dataDir) {
      const scratch = await mkdtemp(join(tmpdir(), "ai-responder-stack-"));
      cleanups.push(() => rm(scratch, { recursive: true, force: true }));
      dataDir = join(scratch, "db");
    }
    const database = await startDatabase({
      dataDir,
      port: options.dbPort ?? 0,
      seed: options.seed,
      log: (line) => options.log?.("postgres", line),
    });
    // A data folder moved out of the postgres user's reach is not inside the scratch folder.
    if (!options.dataDir) cleanups.push(() => rm(database.dataDir, { recursive: true, force: true }));
    cleanups.push(() => database.stop());

    const pool = createPool(database.url, 20);
    cleanups.push(() => pool.end());
    const apiPool = createPool(database.authenticatorUrl, 20);
    cleanups.push(() => apiPool.end());

    const pgNetWorker = await restartable(() => startPgNetWorker(database.adminUrl, (line) => options.log?.("worker", line)));
    cleanups.push(() => pgNetWorker.stop());
    const cronRunner = await restartable(() => startCronRunner(database.adminUrl, (line) => options.log?.("cron", line)));
    cleanups.push(() => cronRunner.stop());

    const llm = options.groq?.apiKey ? undefined : await startStandInLlm({ pace: options.llmPace });
    if (llm) cleanups.push(() => llm.stop());

    const authPool = createPool(database.authAdminUrl, 5);
    cleanups.push(() => authPool.end());
    const authConfig = readConfig().auth;
    const auth = createAuthService({
      pool: authPool,
      keys,
      enableAnonymousSignIns: options.auth?.enableAnonymousSignIns ?? authConfig?.enable_anonymous_sign_ins ?? false,
      anonymousSignInsPerHour: options.auth?.anonymousSignInsPerHour ?? authConfig?.rate_limit?.anonymous_users ?? 30,
      jwtExpirySeconds: options.auth?.jwtExpirySeconds ?? authConfig?.jwt_expiry ?? 3600,
      refreshTokenReuseIntervalSeconds: authConfig?.refresh_token_reuse_interval ?? 10,
      tokenRefreshesPerFiveMinutes: authConfig?.rate_limit?.token_refresh ?? 150,
    });
    const realtime = await startRealtime({ databaseUrl: database.realtimeAdminUrl, keys, log: (line) => options.log?.("realtime", line) });
    cleanups.push(() => realtime.stop());

    // The gateway first, on its port for good, since the function is told the project URL.
    let edgeFunction: EdgeFunction | undefined;
    const gateway = await startGateway({
      port: options.gatewayPort ?? 0,
      pool: apiPool,
      keys,
      functions: functionRoutes({ "ai-responder": () => edgeFunction?.url ?? "http://127.0.0.1:1" }),
      services: [auth, createRestService({ pool: apiPool, keys }), realtime],
    });
    cleanups.push(() => gateway.stop());
    const gatewayUrl = gateway.url;

    // The two Vault secrets the webhook trigger reads (README: "Deploy").
    await setVaultSecret(pool, "project_url", gatewayUrl);
    await setVaultSecret(pool, "ai_responder_webhook_secret", webhookSecret);

    edgeFunction = await serveEdgeFunction({
      name: "ai-responder",
      onLog: (line) => options.log?.("function", line),
      env: {
        // What Supabase injects into every Edge Function...
        SUPABASE_URL: gatewayUrl,
        SUPABASE_ANON_KEY: keys.anonKey,
        SUPABASE_SERVICE_ROLE_KEY: keys.serviceRoleKey,
        SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: keys.publishableKey }),
        SUPABASE_SECRET_KEYS: JSON.stringify({ default: keys.secretKey }),
        SUPABASE_DB_URL: database.url,
        // ...and the secrets set with `supabase secrets set`.
        AI_RESPONDER_WEBHOOK_SECRET: webhookSecret,
        GROQ_API_KEY: options.groq?.apiKey || llm!.apiKey,
        ...(llm ? { GROQ_BASE_URL: llm.baseURL } : options.groq?.baseURL ? { GROQ_BASE_URL: options.groq.baseURL } : {}),
        ...(options.groq?.model ? { GROQ_MODEL: options.groq.model } : {}),
        ...options.functionEnv,
      },
    });
    cleanups.push(() => edgeFunction.stop());

    return {
      dbUrl: database.url,
      gatewayUrl,
      functionUrl: `${gatewayUrl}/functions/v1/ai-responder`,
      keys,
      webhookSecret,
      llm,
      database,
      edgeFunction,
      gateway,
      realtime,
      pgNetWorker,
      cronRunner,
      pool,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export type Restartable = { stop(): Promise<void>; start(): Promise<void> };

/** A part of the stack that tests can stop and start again, as a fault would. */
async function restartable(start: () => Promise<{ stop(): Promise<void> }> | { stop(): Promise<void> }): Promise<Restartable> {
  let part: { stop(): Promise<void> } | undefined = await start();
  return {
    async stop() {
      await part?.stop();
      part = undefined;
    },
    async start() {
      part ??= await start();
    },
  };
}

type SupabaseConfig = {
  auth?: {
    enable_anonymous_sign_ins?: boolean;
    jwt_expiry?: number;
    refresh_token_reuse_interval?: number;
    rate_limit?: { anonymous_users?: number; token_refresh?: number };
  };
  functions?: Record<string, { verify_jwt?: boolean }>;
};

function readConfig(): SupabaseConfig {
  return parseToml(readFileSync(join(root, "supabase", "config.toml"), "utf8")) as SupabaseConfig;
}

/** Each served function with its verify_jwt setting from supabase/config.toml (default true, as on Supabase). */
function functionRoutes(urls: Record<string, () => string>) {
  const config = readConfig();
  return Object.fromEntries(
    Object.entries(urls).map(([name, url]) => [name, { url, verifyJwt: config.functions?.[name]?.verify_jwt ?? true }]),
  );
}

/** Through Vault's own API, as a person would in the SQL editor. */
async function setVaultSecret(pool: pg.Pool, name: string, value: string): Promise<void> {
  const { rowCount } = await pool.query("select vault.update_secret(id, $2) from vault.secrets where name = $1", [name, value]);
  if (!rowCount) await pool.query("select vault.create_secret($2, $1)", [name, value]);
}
