// Shared test vocabulary: projects, visitors, conversations and messages made through the
// same paths the product uses, and bounded polls instead of sleeps.
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { asVisitor } from "../local/visitor.ts";
import { signWebhook } from "../supabase/functions/ai-responder/signature.ts";

export type ProjectSettings = {
  ai_enabled?: boolean;
  ai_model?: string | null;
  ai_system_prompt?: string | null;
  ai_history_limit?: number;
  ai_fallback_message?: string | null;
  ai_reply_delay_ms?: number;
  ai_handover_message?: string | null;
  visitor_messages_per_minute?: number;
  visitor_conversations_per_hour?: number;
  ai_max_replies_per_conversation?: number;
  ai_daily_token_budget?: number | null;
  ai_time_zone?: string;
  ai_max_prompt_tokens?: number;
  ai_max_completion_tokens?: number;
  ai_breaker_threshold?: number;
  ai_breaker_cool_off_seconds?: number;
  allowed_origins?: string[];
};

/**
 * The per-visitor message rate and the per-conversation reply cap are lifted unless a test sets
 * them: tests and the benchmark drive one "visitor" far faster than a person types, which is not
 * what those limits are about (tests/guardrails-*.test.ts prove the limits with their defaults).
 */
export const LIFTED_LIMITS = { visitor_messages_per_minute: 10_000, ai_max_replies_per_conversation: 100_000 };

export async function createProject(pool: pg.Pool, settings: ProjectSettings = {}): Promise<string> {
  const values = { ai_enabled: true, ai_reply_delay_ms: 0, ...LIFTED_LIMITS, ...settings };
  const columns = Object.keys(values);
  const { rows } = await pool.query<{ id: string }>(
    `insert into public.projects (name, ${columns.join(", ")}) values ($1, ${columns.map((_, i) => `$${i + 2}`).join(", ")}) returning id`,
    [`Test project ${randomUUID().slice(0, 8)}`, ...Object.values(values)],
  );
  return rows[0]!.id;
}

export async function createVisitor(pool: pg.Pool, options: { anonymous?: boolean } = {}): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    "insert into auth.users (is_anonymous, email) values ($1, $2) returning id",
    [options.anonymous ?? true, options.anonymous === false ? `${randomUUID()}@example.com` : null],
  );
  return rows[0]!.id;
}

/** A visitor and their conversation in a project, created through RLS as the widget does. */
export async function startConversation(pool: pg.Pool, projectId: string): Promise<{ visitorId: string; conversationId: string }> {
  const visitorId = await createVisitor(pool);
  const conversationId = await asVisitor(pool, visitorId, async (client) =>
    (await client.query<{ id: string }>(
      "insert into public.conversations (project_id, visitor_id) values ($1, $2) returning id",
      [projectId, visitorId],
    )).rows[0]!.id
  );
  return { visitorId, conversationId };
}

/** The visitor writes, through RLS, as the widget's insert would. */
export async function visitorSays(pool: pg.Pool, visitorId: string, conversationId: string, content: string): Promise<string> {
  return asVisitor(pool, visitorId, async (client) =>
    (await client.query<{ id: string }>(
      "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, true, $3) returning id",
      [conversationId, visitorId, content],
    )).rows[0]!.id
  );
}

export async function agentSays(pool: pg.Pool, conversationId: string, content: string, agentId = "agent-1"): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, false, $3) returning id",
    [conversationId, agentId, content],
  );
  return rows[0]!.id;
}

export type MessageRow = { id: string; sender_id: string; from_customer: boolean; content: string; reply_to: string | null };

export async function messagesOf(pool: pg.Pool, conversationId: string): Promise<MessageRow[]> {
  const { rows } = await pool.query<MessageRow>(
    "select id, sender_id, from_customer, content, reply_to from public.messages where conversation_id = $1 order by created_at, id",
    [conversationId],
  );
  return rows;
}

export async function aiRepliesOf(pool: pg.Pool, conversationId: string): Promise<MessageRow[]> {
  return (await messagesOf(pool, conversationId)).filter((m) => m.sender_id === "AI_BOT");
}

/** Polls until `check` returns a value that is not undefined, null or false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false>,
  { timeoutMs = 30_000, intervalMs = 50 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export const marker = () => `m-${randomUUID().slice(0, 8)}`;

/** The Standard Webhooks headers the trigger sends, for a body delivered by hand (now, unless `at` says when). */
export function webhookHeaders(body: string | Uint8Array, secret: string, options: { id?: string; at?: number } = {}): Record<string, string> {
  const id = options.id ?? randomUUID();
  const at = options.at ?? Math.floor(Date.now() / 1000);
  return { "webhook-id": id, "webhook-timestamp": String(at), "webhook-signature": signWebhook(id, at, body, secret) };
}
