// Measures what one hostile visitor can make the AI spend, and what it costs everyone else:
// RELIABILITY.md's "abuse" table. Two scripted visitors flood for 60 s through supabase-js
// (anonymous sign-in, PostgREST, the real triggers), one in one conversation, one trying 50,
// while a bystander in another project writes once a second. The counts are asserted against
// the limits; the latencies are printed, not asserted (a loaded 2-core machine varies).
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../local/stack.ts";
import { createProject, marker, startConversation, visitorSays, waitFor } from "./helpers.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ auth: { anonymousSignInsPerHour: 1000 } });
});
afterAll(() => stack?.stop());

const FLOOD_MS = 60_000;
/** The product's defaults (createProject lifts the message rate and reply cap otherwise). */
const DEFAULTS = { visitor_messages_per_minute: 10, visitor_conversations_per_hour: 3, ai_max_replies_per_conversation: 30, ai_reply_delay_ms: 600 };

async function hostileVisitor(): Promise<{ id: string; supabase: SupabaseClient }> {
  const supabase = createClient(stack.gatewayUrl, stack.keys.publishableKey, { auth: { persistSession: false, autoRefreshToken: false } });
  const { data, error } = await supabase.auth.signInAnonymously();
  if (error || !data.user) throw error ?? new Error("no user");
  return { id: data.user.id, supabase };
}

/** Sends as fast as `senders` loops can until the deadline; counts what was accepted and refused. */
/** One request at a time per visitor by default, as one script in a loop sends. */
async function flood(visitor: { id: string; supabase: SupabaseClient }, conversationIds: string[], text: string, until: number, senders = Number(process.env.ABUSE_SENDERS ?? 1)) {
  const statuses: Record<number, number> = {};
  await Promise.all(Array.from({ length: senders }, async (_, s) => {
    for (let i = 0; Date.now() < until; i++) {
      const conversation_id = conversationIds[(i + s) % conversationIds.length]!;
      const { status } = await visitor.supabase.from("messages").insert({ conversation_id, sender_id: visitor.id, from_customer: true, content: `${text} ${s}.${i} ${"please answer at length ".repeat(20)}` });
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  }));
  return statuses;
}

async function usageOf(projectId: string) {
  const { rows } = await stack.pool.query("select coalesce(sum(calls), 0)::int as calls, coalesce(sum(tokens), 0)::int as tokens from public.ai_usage_daily where project_id = $1", [projectId]);
  return rows[0] as { calls: number; tokens: number };
}

/** Milliseconds from each bystander message to its reply, by the database's clock. */
async function bystanderLatencies(projectId: string, count: number, pauseMs: number): Promise<number[]> {
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
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return latencies;
}
const p50 = (values: number[]) => Math.round([...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]! * 10) / 10;

describe("one hostile visitor", () => {
  it("spends at most the limits in 60 s, with one or with 50 conversations, and barely slows a bystander", async () => {
    const bystanderProject = await createProject(stack.pool);
    const idle = await bystanderLatencies(bystanderProject, 20, 200);

    const oneProject = await createProject(stack.pool, DEFAULTS);
    const manyProject = await createProject(stack.pool, DEFAULTS);
    const [one, many] = [await hostileVisitor(), await hostileVisitor()];
    const { data: single } = await one.supabase.from("conversations").insert({ project_id: oneProject, visitor_id: one.id }).select().single();
    const started: string[] = [];
    const conversationStatuses: Record<number, number> = {};
    for (let i = 0; i < 50; i++) {
      const { data, status } = await many.supabase.from("conversations").insert({ project_id: manyProject, visitor_id: many.id }).select().single();
      conversationStatuses[status] = (conversationStatuses[status] ?? 0) + 1;
      if (data) started.push(data.id);
    }

    const until = Date.now() + FLOOD_MS;
    const [oneStatuses, manyStatuses, busy] = await Promise.all([
      flood(one, [single!.id], `hostile-one ${marker()}`, until),
      flood(many, started, `hostile-many ${marker()}`, until),
      bystanderLatencies(bystanderProject, 40, 1000),
    ]);
    // Let the last accepted messages be answered before counting.
    await waitFor("no open job left", async () => {
      const { rows } = await stack.pool.query(
        "select count(*)::int as n from public.ai_reply_jobs j join public.conversations c on c.id = j.conversation_id where c.project_id = any($1) and j.outcome is null",
        [[oneProject, manyProject]],
      );
      return rows[0].n === 0;
    }, { timeoutMs: 30_000 });

    const [oneUsage, manyUsage] = [await usageOf(oneProject), await usageOf(manyProject)];
    const fresh = await hostileVisitor();
    const batch = await fresh.supabase.from("conversations")
      .insert(Array.from({ length: 500 }, () => ({ project_id: manyProject, visitor_id: fresh.id })));
    const figures = {
      scenario: "one hostile visitor, 60 s",
      concurrent_requests_per_visitor: Number(process.env.ABUSE_SENDERS ?? 1),
      one_conversation: { inserts: oneStatuses, llm_calls: oneUsage.calls, tokens: oneUsage.tokens },
      fifty_conversations: { started: conversationStatuses, inserts: manyStatuses, llm_calls: manyUsage.calls, tokens: manyUsage.tokens },
      bystander_p50_ms: { idle: p50(idle), during_flood: p50(busy), ratio: Math.round((p50(busy) / p50(idle)) * 100) / 100 },
      five_hundred_conversations_in_one_request: { status: batch.status, code: batch.error?.code },
    };
    console.log(JSON.stringify(figures));

    expect(conversationStatuses).toEqual({ 201: 3, 429: 47 });
    expect(oneStatuses[201]).toBeLessThanOrEqual(10);
    expect(manyStatuses[201]).toBeLessThanOrEqual(10);
    expect(oneUsage.calls).toBeLessThanOrEqual(10);
    expect(manyUsage.calls).toBeLessThanOrEqual(10);
    expect(batch.status).toBe(429); // the 4th row already exceeds 3 conversations an hour
    expect((await stack.pool.query("select count(*)::int as n from public.conversations where visitor_id = $1", [fresh.id])).rows[0].n).toBe(0);
  }, 180_000);
});
