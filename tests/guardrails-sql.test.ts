// The guardrails' SQL alone (no worker runs here): claims with an owner, the hand-over to a
// person, the reply cap, the daily budget and its view, the circuit breaker.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asVisitor, withClaims } from "../local/visitor.ts";
import { agentSays, aiRepliesOf, createProject, messagesOf, type ProjectSettings, startConversation, visitorSays } from "./helpers.ts";
import { sweepConversation, webhooksQueuedFor } from "./scheduled.ts";
import { setVault, startTestDatabase, type TestDatabase } from "./test-database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await startTestDatabase();
  await setVault(db.pool, "https://example-ref.supabase.co", "webhook-secret-for-tests");
});
afterAll(() => db?.stop());

// Called as the function calls them: as service_role.
const asService = async <T>(sql: string, values: unknown[]) =>
  withClaims(db.pool, { role: "service_role" }, async (client) => (await client.query(sql, values)).rows[0] as T);
type Context = { action: string; reason?: string; claim_token?: string; history?: { content: string }[] };
const context = async (messageId: string) => (await asService<{ c: Context }>("select public.ai_reply_context($1) as c", [messageId])).c;
const postReply = async (messageId: string, content: string | null, extra: Record<string, unknown> = {}) =>
  (await asService<{ r: { posted: boolean; reason?: string } }>(
    "select public.ai_post_reply(message_id => $1, content => $2, model => 'm', prompt_tokens => $3, completion_tokens => $4, is_fallback => $5, error => $6, claim_token => $7, failure_is_permanent => $8) as r",
    [messageId, content, extra.prompt_tokens ?? 10, extra.completion_tokens ?? 5, extra.is_fallback ?? false, extra.error ?? null, extra.claim_token ?? null, extra.failure_is_permanent ?? false],
  )).r;
const job = async (messageId: string) => (await db.pool.query("select * from public.ai_reply_jobs where message_id = $1", [messageId])).rows[0];
const conversation = async (id: string) => (await db.pool.query("select * from public.conversations where id = $1", [id])).rows[0];
const project = async (id: string) => (await db.pool.query("select * from public.projects where id = $1", [id])).rows[0];

async function talk(settings: ProjectSettings = {}) {
  const projectId = await createProject(db.pool, settings);
  const { visitorId, conversationId } = await startConversation(db.pool, projectId);
  const say = (content: string) => visitorSays(db.pool, visitorId, conversationId, content);
  /** A visitor message answered by the AI through the SQL API, as the function would. */
  const answered = async (content: string, tokens = { prompt_tokens: 10, completion_tokens: 5 }) => {
    const id = await say(content);
    const { claim_token } = await context(id);
    await postReply(id, `answer to ${content}`, { ...tokens, claim_token });
    return id;
  };
  return { projectId, visitorId, conversationId, say, answered };
}

describe("claims with an owner", () => {
  it("a run whose claim lapsed can neither release nor record over the claim of the run that took over", async () => {
    const { say } = await talk({ ai_fallback_message: null });
    const messageId = await say("slow one");
    const first = await context(messageId);
    await db.pool.query("update public.ai_reply_jobs set claimed_until = now() - interval '1 second' where message_id = $1", [messageId]);
    const second = await context(messageId);
    expect(second.action).toBe("reply");
    expect(second.claim_token).not.toBe(first.claim_token);

    // The first run's LLM fails late: its failure must not free the second run's claim.
    expect(await postReply(messageId, null, { error: "http 500", claim_token: first.claim_token })).toEqual({ posted: false, reason: "no_content" });
    expect(await job(messageId)).toMatchObject({ claim_token: second.claim_token, error: null });
    expect((await job(messageId)).claimed_until.getTime()).toBeGreaterThan(Date.now());
    expect(await context(messageId)).toEqual({ action: "skip", reason: "in_progress" });
    // Its instance retiring gives back nothing but its own claims.
    expect((await asService<{ n: number }>("select public.ai_release_claims($1) as n", [[first.claim_token]])).n).toBe(0);
    expect((await asService<{ n: number }>("select public.ai_release_claims($1) as n", [[second.claim_token]])).n).toBe(1);
  });

  it("a late run that does get an answer posts it once; the run that took over then finds it answered", async () => {
    const { conversationId, say } = await talk();
    const messageId = await say("who answers?");
    const first = await context(messageId);
    await db.pool.query("update public.ai_reply_jobs set claimed_until = now() - interval '1 second' where message_id = $1", [messageId]);
    const second = await context(messageId);
    expect(await postReply(messageId, "first", { claim_token: first.claim_token })).toMatchObject({ posted: true });
    expect(await postReply(messageId, "second", { claim_token: second.claim_token })).toEqual({ posted: false, reason: "already_answered" });
    expect((await aiRepliesOf(db.pool, conversationId)).map((r) => r.content)).toEqual(["first"]);
  });
});

describe("handing over to a person", () => {
  it("marks the conversation and posts the hand-over text once, whoever asks twice; the visitor can read why", async () => {
    const { visitorId, conversationId } = await talk();
    const handOver = async () => (await asService<{ h: boolean }>("select private.hand_over_to_human($1, 'tool') as h", [conversationId])).h;
    expect(await handOver()).toBe(true);
    expect(await handOver()).toBe(false);
    expect((await messagesOf(db.pool, conversationId)).map((m) => [m.sender_id, m.content])).toEqual([
      ["AI_BOT", "I'm handing you over to a member of our team; they will reply here as soon as they can."],
    ]);
    const seen = await asVisitor(db.pool, visitorId, async (client) =>
      (await client.query("select awaiting_human_since is not null as waiting, awaiting_human_reason from public.conversations")).rows);
    expect(seen).toEqual([{ waiting: true, awaiting_human_reason: "tool" }]);
  });

  it("keeps the AI silent while awaited: no webhook, and ai_reply_context skips with awaiting_human", async () => {
    const { conversationId, say } = await talk();
    await asService("select private.hand_over_to_human($1, 'tool')", [conversationId]);
    const messageId = await say("anyone?");
    expect(await job(messageId)).toBeUndefined();
    expect(await context(messageId)).toEqual({ action: "skip", reason: "awaiting_human" });
    await sweepConversation(db.pool, conversationId, 2);
    expect(await webhooksQueuedFor(db.pool, conversationId)).toBe(0);
    expect((await aiRepliesOf(db.pool, conversationId)).map((r) => r.reply_to)).toEqual([null]); // the hand-over text only
  });

  it("ends the wait when an agent writes, and when the conversation is handed back", async () => {
    const { conversationId } = await talk();
    await asService("select private.hand_over_to_human($1, 'tool')", [conversationId]);
    await agentSays(db.pool, conversationId, "Ana here", "agent-ana");
    expect(await conversation(conversationId)).toMatchObject({ awaiting_human_since: null, awaiting_human_reason: null, handed_off_to: "agent-ana" });

    await db.pool.query("update public.conversations set awaiting_human_since = now(), awaiting_human_reason = 'again' where id = $1", [conversationId]);
    await asService("update public.conversations set handed_off_to = null where id = $1", [conversationId]);
    expect(await conversation(conversationId)).toMatchObject({ awaiting_human_since: null, awaiting_human_reason: null, handed_off_to: null });
  });
});

describe("the reply cap per conversation", () => {
  it("at the cap: no LLM call, the hand-over text once, the conversation awaiting a person", async () => {
    const { conversationId, say, answered } = await talk({ ai_max_replies_per_conversation: 2 });
    await answered("one");
    await answered("two");
    const third = await say("three");
    expect(await context(third)).toEqual({ action: "skip", reason: "reply_cap" });
    expect(await job(third)).toMatchObject({ outcome: "reply_cap", claimed_until: null });
    expect(await conversation(conversationId)).toMatchObject({ awaiting_human_reason: "reply_cap" });
    const fourth = await say("four");
    expect(await job(fourth)).toBeUndefined(); // no webhook while a person is awaited
    const sentBefore = await webhooksQueuedFor(db.pool, conversationId);
    await sweepConversation(db.pool, conversationId, 2); // nor from the retry sweeper
    expect(await webhooksQueuedFor(db.pool, conversationId)).toBe(sentBefore);
    expect((await aiRepliesOf(db.pool, conversationId)).map((r) => r.content)).toEqual([
      "answer to one", "answer to two", "I'm handing you over to a member of our team; they will reply here as soon as they can.",
    ]);
  });
});

describe("the daily token budget", () => {
  it("pauses the project's AI once the day's tokens are spent, hands over once per conversation, shows it in ai_usage_daily, and resumes the next day", async () => {
    const first = await talk({ ai_daily_token_budget: 100, ai_time_zone: "Pacific/Kiritimati" });
    await first.answered("big question", { prompt_tokens: 80, completion_tokens: 30 });
    const over = await first.say("and another");
    expect(await context(over)).toEqual({ action: "skip", reason: "daily_budget" });
    expect(await conversation(first.conversationId)).toMatchObject({ awaiting_human_reason: "daily_budget" });

    // Another conversation of the same project: handed over too, once.
    const { visitorId, conversationId } = await startConversation(db.pool, first.projectId);
    const other = await visitorSays(db.pool, visitorId, conversationId, "hello?");
    expect(await context(other)).toEqual({ action: "skip", reason: "daily_budget" });
    expect((await aiRepliesOf(db.pool, conversationId)).map((r) => r.content)).toHaveLength(1);

    const { rows: usage } = await db.pool.query(
      "select day = (now() at time zone 'Pacific/Kiritimati')::date as today_there, calls, prompt_tokens, completion_tokens, tokens, token_budget, fallbacks, failures, paused_since is not null as paused from public.ai_usage_daily where project_id = $1",
      [first.projectId],
    );
    expect(usage).toEqual([{ today_there: true, calls: 1, prompt_tokens: "80", completion_tokens: "30", tokens: "110", token_budget: "100", fallbacks: 0, failures: 0, paused: true }]);

    // The next day there: yesterday's usage no longer counts.
    await db.pool.query("update private.ai_usage_daily set day = day - 1 where project_id = $1", [first.projectId]);
    const third = await talk({});
    await db.pool.query("update public.conversations set project_id = $1 where id = $2", [first.projectId, third.conversationId]);
    expect(await context(await third.say("new day"))).toMatchObject({ action: "reply" });
  });

  it("has no limit when the budget is null, and refuses a time zone PostgreSQL does not know", async () => {
    const { answered, say } = await talk({ ai_daily_token_budget: null });
    await answered("huge", { prompt_tokens: 10_000_000, completion_tokens: 1 });
    expect(await context(await say("still there?"))).toMatchObject({ action: "reply" });
    await expect(createProject(db.pool, { ai_time_zone: "Mars/Olympus_Mons" })).rejects.toThrow(/time zone "Mars\/Olympus_Mons" not recognized/);
  });
});

describe("the circuit breaker", () => {
  it("opens after 3 consecutive failures retrying cannot fix, answers with the fallback text while open, and closes after the cool-off (the next call a trial)", async () => {
    const { projectId, conversationId, say } = await talk({ ai_fallback_message: "Our assistant is unavailable." });
    const failOnce = async (permanent: boolean, content: string | null = null) => {
      const id = await say("q");
      const { claim_token } = await context(id);
      await postReply(id, content, { error: permanent ? "http 401 invalid_api_key" : "http 500", failure_is_permanent: permanent, claim_token, is_fallback: true });
      return id;
    };
    await failOnce(true);
    await failOnce(false); // a passing failure neither counts nor resets
    await failOnce(true);
    expect((await project(projectId)).ai_paused_until).toBeNull();
    await failOnce(true);
    const paused = await project(projectId);
    expect(paused.ai_paused_until.getTime() - Date.now()).toBeGreaterThan(590_000);
    expect(paused.ai_paused_reason).toBe("3 consecutive LLM failures that retrying cannot fix (last: http 401 invalid_api_key)");

    const whilePaused = await say("anyone?");
    expect(await context(whilePaused)).toEqual({ action: "skip", reason: "paused" });
    expect(await job(whilePaused)).toMatchObject({ outcome: "paused", error: paused.ai_paused_reason });
    expect((await messagesOf(db.pool, conversationId)).find((m) => m.reply_to === whilePaused)?.content).toBe("Our assistant is unavailable.");

    // Cool-off over: a trial call. It fails the same way, so the breaker opens again at once.
    await db.pool.query("update public.projects set ai_paused_until = now() - interval '1 second' where id = $1", [projectId]);
    await failOnce(true);
    expect((await project(projectId)).ai_paused_until.getTime()).toBeGreaterThan(Date.now());

    // Fixed (admin clears the pause); a success resets the count.
    await db.pool.query("update public.projects set ai_paused_until = null where id = $1", [projectId]);
    const ok = await say("fixed?");
    const { claim_token } = await context(ok);
    await postReply(ok, "yes", { claim_token });
    await failOnce(true);
    expect((await project(projectId)).ai_paused_until).toBeNull();
    const { rows } = await db.pool.query("select calls, failures, fallbacks from public.ai_usage_daily where project_id = $1", [projectId]);
    expect(rows).toEqual([{ calls: 7, failures: 6, fallbacks: 0 }]);
  });
});
