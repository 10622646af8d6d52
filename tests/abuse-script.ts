// One hostile visitor as a script drives it: anonymous sign-in and inserts through supabase-js
// (PostgREST, the real triggers) as fast as one loop sends. Shared by the short test
// (tests/guardrails-abuse.test.ts) and the 60 s measurement (bench/abuse.ts).
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import type { Stack } from "../local/stack.ts";
import { marker, startConversation, visitorSays, waitFor } from "./helpers.ts";

/** The product's defaults (createProject lifts the message rate and reply cap otherwise). */
export const PRODUCT_DEFAULTS = { visitor_messages_per_minute: 10, visitor_conversations_per_hour: 3, ai_max_replies_per_conversation: 30, ai_reply_delay_ms: 600 };

export type HostileVisitor = { id: string; supabase: SupabaseClient };
export type Statuses = Record<number, number>;

export async function hostileVisitor(stack: Stack): Promise<HostileVisitor> {
  const supabase = createClient(stack.gatewayUrl, stack.keys.publishableKey, { auth: { persistSession: false, autoRefreshToken: false } });
  const { data, error } = await supabase.auth.signInAnonymously();
  if (error || !data.user) throw error ?? new Error("no user");
  return { id: data.user.id, supabase };
}

/** Tries to start `count` conversations in a project; returns the statuses and the ids started. */
export async function startMany(visitor: HostileVisitor, projectId: string, count: number): Promise<{ statuses: Statuses; ids: string[] }> {
  const statuses: Statuses = {};
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const { data, status } = await visitor.supabase.from("conversations").insert({ project_id: projectId, visitor_id: visitor.id }).select().single();
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (data) ids.push(data.id);
  }
  return { statuses, ids };
}

/** Sends as fast as `senders` loops can until the deadline (one request at a time per loop); counts statuses. */
export async function flood(visitor: HostileVisitor, conversationIds: string[], text: string, until: number, senders = 1): Promise<Statuses> {
  const statuses: Statuses = {};
  await Promise.all(Array.from({ length: senders }, async (_, s) => {
    for (let i = 0; Date.now() < until; i++) {
      const conversation_id = conversationIds[(i + s) % conversationIds.length]!;
      const { status } = await visitor.supabase.from("messages").insert({ conversation_id, sender_id: visitor.id, from_customer: true, content: `${text} ${s}.${i} ${"please answer at length ".repeat(20)}` });
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  }));
  return statuses;
}

export async function usageOf(stack: Stack, projectId: string): Promise<{ calls: number; tokens: number }> {
  const { rows } = await stack.pool.query("select coalesce(sum(calls), 0)::int as calls, coalesce(sum(tokens), 0)::int as tokens from public.ai_usage_daily where project_id = $1", [projectId]);
  return rows[0];
}

/** Waits until the projects have no open job: every accepted message answered or closed. */
export async function settledProjects(stack: Stack, projectIds: string[], timeoutMs = 30_000): Promise<void> {
  await waitFor("no open job left", async () => {
    const { rows } = await stack.pool.query(
      "select count(*)::int as n from public.ai_reply_jobs j join public.conversations c on c.id = j.conversation_id where c.project_id = any($1) and j.outcome is null",
      [projectIds],
    );
    return rows[0].n === 0;
  }, { timeoutMs });
}

/** Milliseconds from each bystander message to its reply, by the database's clock. */
export async function bystanderLatencies(stack: Stack, projectId: string, count: number, pauseMs: number): Promise<number[]> {
  const { visitorId, conversationId } = await startConversation(stack.pool, projectId);
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = await visitorSays(stack.pool, visitorId, conversationId, `bystander ${i} ${marker()}`);
    const { rows } = await waitFor("the bystander's reply", async () => {
      const result = await stack.pool.query(
        "select extract(epoch from r.created_at - m.created_at) * 1000 as ms from public.messages m join public.messages r on r.reply_to = m.id where m.id = $1",
        [id],
      );
      return result.rows.length > 0 && result;
    }, { timeoutMs: 60_000, intervalMs: 20 });
    latencies.push(Number(rows[0].ms));
    await new Promise((resolve) => setTimeout(resolve, pauseMs)); // the bystander's typing pace, not a wait for an outcome
  }
  return latencies;
}

export const p50 = (values: number[]) => Math.round([...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]! * 10) / 10;
