// The SQL that decides whether and when the AI answers, branch by branch, called as production
// calls it: the function's SQL API as service_role with the arguments the function passes (or
// none), the sweeper through its scheduled command. No worker runs here: webhooks stay queued.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withClaims } from "../local/visitor.ts";
import { agentSays, aiRepliesOf, createProject, messagesOf, type ProjectSettings, startConversation, visitorSays, waitFor } from "./helpers.ts";
import { runScheduled, scheduledCommand, sweepConversation, webhooksQueuedFor } from "./scheduled.ts";
import { setVault, startTestDatabase, type TestDatabase } from "./test-database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await startTestDatabase();
  await setVault(db.pool, "https://example-ref.supabase.co", "webhook-secret-for-tests");
});
afterAll(() => db?.stop());

type Context = { action: string; reason?: string; claim_token?: string; history?: { from_customer: boolean; content: string }[] };
const asService = async <T>(sql: string, values: unknown[]) =>
  withClaims(db.pool, { role: "service_role" }, async (client) => (await client.query(sql, values)).rows[0] as T);
/** As the function calls it, with its claim of 60 s, or with no claim_seconds at all. */
const context = async (messageId: string, claimSeconds?: number) =>
  (await asService<{ c: Context }>(
    claimSeconds === undefined ? "select public.ai_reply_context($1) as c" : "select public.ai_reply_context($1, $2) as c",
    claimSeconds === undefined ? [messageId] : [messageId, claimSeconds],
  )).c;
const postReply = async (messageId: string, content: string | null, claimToken?: string, extra: Record<string, unknown> = {}) =>
  (await asService<{ r: { posted: boolean; reason?: string } }>(
    "select public.ai_post_reply(message_id => $1, content => $2, claim_token => $3, is_fallback => $4, error => $5) as r",
    [messageId, content, claimToken ?? null, extra.is_fallback ?? false, extra.error ?? null],
  )).r;
const job = async (messageId: string) => (await db.pool.query("select * from public.ai_reply_jobs where message_id = $1", [messageId])).rows[0];
const skipReason = async (messageId: string) =>
  (await db.pool.query("select private.ai_reply_skip_reason(m) as r from public.messages m where id = $1", [messageId])).rows[0].r as string | null;
const age = (messageId: string, seconds: number) =>
  db.pool.query("update public.ai_reply_jobs set last_dispatched_at = now() - make_interval(secs => $2) where message_id = $1", [messageId, seconds]);
const queuedForMessage = async (messageId: string) =>
  (await db.pool.query("select count(*)::int as n from net.http_request_queue where headers ->> 'webhook-id' = $1", [messageId])).rows[0].n as number;

async function talk(settings: ProjectSettings = {}) {
  const projectId = await createProject(db.pool, settings);
  const { visitorId, conversationId } = await startConversation(db.pool, projectId);
  return { projectId, visitorId, conversationId, say: (content: string) => visitorSays(db.pool, visitorId, conversationId, content) };
}

describe("why no reply is due (private.ai_reply_skip_reason), in order", () => {
  it("says ai_disabled before handed_off before awaiting_human before agent_online before already_answered", async () => {
    const { projectId, conversationId, say } = await talk();
    const messageId = await say("hello");
    expect(await skipReason(messageId)).toBeNull();
    await db.pool.query("insert into public.messages (conversation_id, sender_id, from_customer, content, reply_to) values ($1, 'AI_BOT', false, 'hi', $2)", [conversationId, messageId]);
    expect(await skipReason(messageId)).toBe("already_answered");
    const agentId = (await db.pool.query("insert into auth.users (is_anonymous, email) values (false, gen_random_uuid() || '@example.com') returning id")).rows[0].id;
    await db.pool.query("insert into public.project_members (project_id, user_id, last_seen_at) values ($1, $2, now())", [projectId, agentId]);
    expect(await skipReason(messageId)).toBe("already_answered"); // ai_mode always: agents online do not matter
    await db.pool.query("update public.projects set ai_mode = 'when_no_agent_online' where id = $1", [projectId]);
    expect(await skipReason(messageId)).toBe("agent_online");
    await db.pool.query("update public.conversations set awaiting_human_since = now() where id = $1", [conversationId]);
    expect(await skipReason(messageId)).toBe("awaiting_human");
    await db.pool.query("update public.conversations set handed_off_to = 'agent-1' where id = $1", [conversationId]);
    expect(await skipReason(messageId)).toBe("handed_off");
    await db.pool.query("update public.projects set ai_enabled = false where id = $1", [projectId]);
    expect(await skipReason(messageId)).toBe("ai_disabled");
  });
});

describe("ai_reply_context", () => {
  it("claims for 60 s when called without claim_seconds, and for at least 1 s whatever is asked", async () => {
    const { say } = await talk();
    const first = await say("one");
    expect((await context(first)).action).toBe("reply");
    const { rows: [held] } = await db.pool.query("select extract(epoch from claimed_until - now()) as s from public.ai_reply_jobs where message_id = $1", [first]);
    expect(Number(held.s)).toBeGreaterThan(57);
    expect(Number(held.s)).toBeLessThanOrEqual(60);
    const second = await say("two");
    await context(second, 0);
    const { rows: [least] } = await db.pool.query("select extract(epoch from claimed_until - now()) as s from public.ai_reply_jobs where message_id = $1", [second]);
    expect(Number(least.s)).toBeGreaterThan(0);
    expect(Number(least.s)).toBeLessThanOrEqual(1);
  });

  it("tells a duplicate delivery in_progress while claimed and already_handled once the job is closed", async () => {
    const { say } = await talk();
    const messageId = await say("hi");
    const { claim_token } = await context(messageId, 30);
    expect(await context(messageId, 30)).toEqual({ action: "skip", reason: "in_progress" });
    // Closed without a reply row (the breaker's pause without fallback text, say): not in progress.
    await db.pool.query("update public.ai_reply_jobs set outcome = 'paused', claimed_until = null where message_id = $1", [messageId]);
    expect(await context(messageId, 30)).toEqual({ action: "skip", reason: "already_handled" });
    expect(claim_token).toBeDefined();
  });

  it("is superseded only by a newer visitor message of the same conversation", async () => {
    const { visitorId, conversationId, say } = await talk();
    const messageId = await say("first");
    await agentSays(db.pool, conversationId, "an agent's note", "AI_BOT_NOT");
    await db.pool.query("update public.conversations set handed_off_to = null where id = $1", [conversationId]);
    const elsewhere = await talk();
    await elsewhere.say("another conversation");
    expect((await context(messageId, 30)).action).toBe("reply");
    await db.pool.query("update public.ai_reply_jobs set claimed_until = null where message_id = $1", [messageId]);
    await visitorSays(db.pool, visitorId, conversationId, "newer");
    expect(await context(messageId, 30)).toEqual({ action: "skip", reason: "superseded" });
  });

  it("counts toward the reply cap only AI replies that answer a message, not hand-over texts or agents' messages", async () => {
    const { conversationId, say } = await talk({ ai_max_replies_per_conversation: 2 });
    const answer = async (text: string) => {
      const id = await say(text);
      const { claim_token } = await context(id, 30);
      await postReply(id, `re ${text}`, claim_token);
      return id;
    };
    await answer("one");
    await db.pool.query("insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, 'AI_BOT', false, 'notice'), ($1, 'AI_BOT', false, 'notice 2')", [conversationId]);
    expect((await context(await say("two"), 30)).action).toBe("reply");
    const { rows } = await db.pool.query("select id from public.messages where conversation_id = $1 and content = 'two'", [conversationId]);
    await postReply(rows[0].id, "re two", (await job(rows[0].id)).claim_token);
    expect(await context(await say("three"), 30)).toEqual({ action: "skip", reason: "reply_cap" });
  });

  it("stops at the daily budget exactly when the tokens used reach it, not before", async () => {
    const { projectId, say } = await talk({ ai_daily_token_budget: 100 });
    await db.pool.query("insert into private.ai_usage_daily (project_id, day, shard, calls, prompt_tokens, completion_tokens) values ($1, (now() at time zone 'UTC')::date, 3, 1, 90, 9)", [projectId]);
    expect((await context(await say("99 used"), 30)).action).toBe("reply");
    await db.pool.query("update private.ai_usage_daily set completion_tokens = 10 where project_id = $1", [projectId]);
    expect(await context(await say("100 used"), 30)).toEqual({ action: "skip", reason: "daily_budget" });
  });

  it("while the breaker is open and the project has no fallback text: posts nothing, closes the job as paused", async () => {
    const { projectId, conversationId, say } = await talk({ ai_fallback_message: null });
    await db.pool.query("update public.projects set ai_paused_until = now() + interval '1 minute', ai_paused_reason = 'bad key' where id = $1", [projectId]);
    const messageId = await say("hello?");
    expect(await context(messageId, 30)).toEqual({ action: "skip", reason: "paused" });
    expect(await job(messageId)).toMatchObject({ outcome: "paused", error: "bad key", claimed_until: null });
    expect(await aiRepliesOf(db.pool, conversationId)).toEqual([]);
  });

  it("hands over without a message when the project has no hand-over text, and never over a person who has it", async () => {
    const quiet = await talk({ ai_handover_message: null });
    expect((await asService<{ h: boolean }>("select private.hand_over_to_human($1, 'x') as h", [quiet.conversationId])).h).toBe(true);
    expect(await messagesOf(db.pool, quiet.conversationId)).toEqual([]);
    const taken = await talk();
    await agentSays(db.pool, taken.conversationId, "Ana here", "agent-ana");
    expect((await asService<{ h: boolean }>("select private.hand_over_to_human($1, 'x') as h", [taken.conversationId])).h).toBe(false);
    expect((await db.pool.query("select awaiting_human_since from public.conversations where id = $1", [taken.conversationId])).rows[0].awaiting_human_since).toBeNull();
  });
});

describe("ai_post_reply", () => {
  it("turns a job the sweeper gave up on (failed) into answered when a late reply comes, and posts it", async () => {
    const { conversationId, say } = await talk({ ai_fallback_message: null });
    const messageId = await say("slow?");
    const { claim_token } = await context(messageId, 30);
    await db.pool.query("update public.ai_reply_jobs set claimed_until = null, dispatch_count = 5, last_dispatched_at = now() - interval '1 hour' where message_id = $1", [messageId]);
    await runScheduled(db.pool, "retry-unanswered-ai-replies");
    expect(await job(messageId)).toMatchObject({ outcome: "failed" });
    expect(await postReply(messageId, "late but here", claim_token)).toMatchObject({ posted: true });
    expect(await job(messageId)).toMatchObject({ outcome: "answered", error: null });
    expect((await aiRepliesOf(db.pool, conversationId)).map((r) => r.content)).toEqual(["late but here"]);
  });

  it("leaves a job closed for any other reason as it was: only failed turns into answered", async () => {
    const { say } = await talk();
    const messageId = await say("q");
    await db.pool.query("update public.ai_reply_jobs set outcome = 'agent_online', finished_at = now() where message_id = $1", [messageId]);
    await postReply(messageId, "late");
    expect(await job(messageId)).toMatchObject({ outcome: "agent_online" });
  });

  it("without content (the LLM failed, no fallback text): releases its own claim, keeps the job open, records why", async () => {
    const { say } = await talk();
    const messageId = await say("q");
    const { claim_token } = await context(messageId, 30);
    expect(await postReply(messageId, null, claim_token, { error: "http 500" })).toEqual({ posted: false, reason: "no_content" });
    expect(await job(messageId)).toMatchObject({ outcome: null, claimed_until: null, claim_token: null, error: "http 500" });
  });
});

describe("claims given back by a retiring instance (ai_release_claims)", () => {
  it("are due at the sweeper's next scheduled pass, whatever the backoff, and the re-dispatch clears the release", async () => {
    const { say } = await talk();
    const messageId = await say("q");
    const { claim_token } = await context(messageId, 30);
    expect((await asService<{ n: number }>("select public.ai_release_claims($1) as n", [[claim_token]])).n).toBe(1);
    expect((await asService<{ n: number }>("select public.ai_release_claims($1) as n", [[claim_token]])).n).toBe(0); // nothing left to give back
    expect(await job(messageId)).toMatchObject({ claimed_until: null, claim_token: null });
    expect((await job(messageId)).released_at).not.toBeNull();
    await runScheduled(db.pool, "retry-unanswered-ai-replies"); // dispatched a moment ago: no backoff applies
    expect(await job(messageId)).toMatchObject({ dispatch_count: 2, released_at: null });
    expect(await queuedForMessage(messageId)).toBe(2);
  });

  it("never release a lapsed claim or a closed job", async () => {
    const { say } = await talk();
    const lapsed = await say("a");
    const { claim_token: lapsedToken } = await context(lapsed, 30);
    await db.pool.query("update public.ai_reply_jobs set claimed_until = now() - interval '1 second' where message_id = $1", [lapsed]);
    const closed = await say("b");
    const { claim_token: closedToken } = await context(closed, 30);
    await db.pool.query("update public.ai_reply_jobs set outcome = 'answered' where message_id = $1", [closed]);
    expect((await asService<{ n: number }>("select public.ai_release_claims($1) as n", [[lapsedToken, closedToken]])).n).toBe(0);
    expect((await job(lapsed)).released_at).toBeNull();
  });
});

describe("the retry sweeper as pg_cron runs it (select private.retry_unanswered_ai_replies(), every 5 s)", () => {
  it("is scheduled every 5 seconds with no arguments, so the defaults below are production's", async () => {
    expect(await scheduledCommand(db.pool, "retry-unanswered-ai-replies")).toEqual({
      command: "select private.retry_unanswered_ai_replies()", schedule: "5 seconds", username: "postgres",
    });
  });

  it("waits 10 s after the first dispatch before sending again", async () => {
    const { say } = await talk();
    const messageId = await say("q");
    await age(messageId, 9);
    expect(await runScheduled(db.pool, "retry-unanswered-ai-replies")).toBe(0);
    expect((await job(messageId)).dispatch_count).toBe(1);
    await age(messageId, 11);
    expect(await runScheduled(db.pool, "retry-unanswered-ai-replies")).toBeGreaterThanOrEqual(1);
    expect((await job(messageId)).dispatch_count).toBe(2);
  });

  it("sends a 5th time, and gives up after the 5th: the fallback text once, the job failed", async () => {
    const { conversationId, say } = await talk({ ai_fallback_message: "We'll get back to you." });
    const messageId = await say("q");
    await db.pool.query("update public.ai_reply_jobs set dispatch_count = 4 where message_id = $1", [messageId]);
    await age(messageId, 81);
    await runScheduled(db.pool, "retry-unanswered-ai-replies");
    expect(await job(messageId)).toMatchObject({ dispatch_count: 5, outcome: null });
    await age(messageId, 161);
    await runScheduled(db.pool, "retry-unanswered-ai-replies");
    expect(await job(messageId)).toMatchObject({ dispatch_count: 5, outcome: "failed", error: "no reply after 5 dispatches, fallback posted" });
    await sweepConversation(db.pool, conversationId, 2);
    expect((await aiRepliesOf(db.pool, conversationId)).map((r) => r.content)).toEqual(["We'll get back to you."]);
  });

  it("never waits more than 5 minutes between dispatches, whatever the grace", async () => {
    const { say } = await talk();
    const messageId = await say("q");
    await db.pool.query("update public.ai_reply_jobs set dispatch_count = 4 where message_id = $1", [messageId]);
    await age(messageId, 299);
    await db.pool.query("select private.retry_unanswered_ai_replies(grace => interval '1 minute', max_dispatches => 10)");
    expect((await job(messageId)).dispatch_count).toBe(4); // 8 minutes uncapped; 5 at most
    await age(messageId, 301);
    await db.pool.query("select private.retry_unanswered_ai_replies(grace => interval '1 minute', max_dispatches => 10)");
    expect((await job(messageId)).dispatch_count).toBe(5);
  });

  it("does not post the fallback text when an agent took over while it was giving up (re-checked under the lock)", async () => {
    const { conversationId, say } = await talk({ ai_fallback_message: "fallback" });
    const messageId = await say("q");
    await db.pool.query("update public.ai_reply_jobs set dispatch_count = 5, last_dispatched_at = now() - interval '1 hour' where message_id = $1", [messageId]);
    const agent = await db.pool.connect();
    try {
      await agent.query("begin");
      await agent.query("select 1 from public.conversations where id = $1 for update", [conversationId]);
      const sweeping = runScheduled(db.pool, "retry-unanswered-ai-replies");
      // The sweeper has read the job (no skip reason yet) and waits for the conversation's lock.
      await waitFor("the sweeper to wait for the conversation's lock", async () =>
        (await db.pool.query("select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%retry_unanswered_ai_replies%'")).rows.length > 0);
      await agent.query("insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, 'agent-ana', false, 'Ana here')", [conversationId]);
      await agent.query("commit");
      await sweeping;
    } finally {
      agent.release();
    }
    expect(await job(messageId)).toMatchObject({ outcome: "handed_off" });
    expect(await aiRepliesOf(db.pool, conversationId)).toEqual([]);
  });

  it("handles at most 200 due jobs per pass, oldest first; the rest at the next pass", async () => {
    const projectId = await createProject(db.pool);
    const { rows: conversations } = await db.pool.query(
      "insert into public.conversations (project_id) select $1 from generate_series(1, 201) returning id",
      [projectId],
    );
    await db.pool.query(
      "insert into public.messages (conversation_id, sender_id, from_customer, content) select id, 'v', true, 'q' from unnest($1::uuid[]) id",
      [conversations.map((c) => c.id)],
    );
    const ids = conversations.map((c) => c.id);
    await db.pool.query("update public.ai_reply_jobs set last_dispatched_at = now() - interval '1 hour' - make_interval(secs => random() * 100) where conversation_id = any($1)", [ids]);
    const { rows: [youngest] } = await db.pool.query("select message_id from public.ai_reply_jobs where conversation_id = any($1) order by last_dispatched_at desc limit 1", [ids]);
    // Other tests' jobs may be due too: count only these.
    await runScheduled(db.pool, "retry-unanswered-ai-replies");
    const { rows: [once] } = await db.pool.query("select count(*) filter (where dispatch_count = 2)::int as sent from public.ai_reply_jobs where conversation_id = any($1)", [ids]);
    expect(once.sent).toBeLessThanOrEqual(200);
    expect((await job(youngest.message_id)).dispatch_count).toBe(1);
    await runScheduled(db.pool, "retry-unanswered-ai-replies");
    expect((await job(youngest.message_id)).dispatch_count).toBe(2);
  });
});

describe("two visitor messages with an AI reply between them", () => {
  it("the second gets its own reply, reading the first and its answer; nothing is answered twice, even after the sweeper's passes", async () => {
    const { conversationId, say } = await talk();
    const first = await say("Do you ship to Spain?");
    const { claim_token: firstClaim } = await context(first, 30);
    await postReply(first, "Yes, in 3 days.", firstClaim);
    const second = await say("And to Portugal?");
    const secondContext = await context(second, 30);
    expect(secondContext.action).toBe("reply");
    expect(secondContext.history).toEqual([
      { from_customer: true, content: "Do you ship to Spain?" },
      { from_customer: false, content: "Yes, in 3 days." },
      { from_customer: true, content: "And to Portugal?" },
    ]);
    // A re-delivery of the first (the sweeper, pg_net) finds it answered; it does not answer again.
    expect(await context(first, 30)).toEqual({ action: "skip", reason: "already_answered" });
    await postReply(second, "Yes, in 4 days.", secondContext.claim_token);
    await sweepConversation(db.pool, conversationId, 3);
    expect((await messagesOf(db.pool, conversationId)).map((m) => [m.content, m.reply_to])).toEqual([
      ["Do you ship to Spain?", null], ["Yes, in 3 days.", first], ["And to Portugal?", null], ["Yes, in 4 days.", second],
    ]);
    expect(await webhooksQueuedFor(db.pool, conversationId)).toBe(2);
    expect([(await job(first)).outcome, (await job(second)).outcome]).toEqual(["answered", "answered"]);
  });
});

describe("visitor limits count visitors only", () => {
  it("never limit the database owner or the service role writing visitor rows, even with a user id in its token", async () => {
    const { visitorId, conversationId } = await talk({ visitor_messages_per_minute: 1 });
    for (let i = 0; i < 3; i++) {
      await db.pool.query("insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, true, 'by owner')", [conversationId, visitorId]);
      await asService("insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, true, 'by service')", [conversationId, visitorId]);
      // A service-role token that names a user (a tool acting for one) is still not a visitor.
      await withClaims(db.pool, { role: "service_role", sub: visitorId }, (client) =>
        client.query("insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, true, 'by a tool')", [conversationId, visitorId]));
    }
    await visitorSays(db.pool, visitorId, conversationId, "the visitor's one");
    await expect(visitorSays(db.pool, visitorId, conversationId, "one too many")).rejects.toThrow(/You are sending messages too quickly; try again in \d+ s/);
  });
});

describe("the hourly trims as scheduled", () => {
  it("keep the last day of visitors' rate counters", async () => {
    expect(await scheduledCommand(db.pool, "trim-visitor-rate-counters")).toEqual({
      command: "select private.trim_visitor_rate_counters()", schedule: "41 * * * *", username: "postgres",
    });
    const { visitorId } = await talk();
    const { visitorId: other } = await talk();
    await db.pool.query("update private.visitor_rate_counters set window_start = now() - interval '25 hours' where visitor_id = $1", [visitorId]);
    await db.pool.query("update private.visitor_rate_counters set window_start = now() - interval '23 hours' where visitor_id = $1", [other]);
    await runScheduled(db.pool, "trim-visitor-rate-counters");
    const { rows } = await db.pool.query("select visitor_id from private.visitor_rate_counters where visitor_id = any($1)", [[visitorId, other]]);
    expect(rows).toEqual([{ visitor_id: other }]);
  });
});
