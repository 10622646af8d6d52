import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withClaims } from "../local/visitor.ts";
import { agentSays, aiRepliesOf, createProject, startConversation, visitorSays } from "./helpers.ts";
import { startTestDatabase, type TestDatabase } from "./test-database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await startTestDatabase();
});
afterAll(() => db?.stop());

// Called as the function calls them: as service_role, the only role granted them.
const asService = <T>(sql: string, values: unknown[]) =>
  withClaims(db.pool, { role: "service_role" }, async (client) => (await client.query(sql, values)).rows[0] as T);
const context = async (messageId: string) =>
  (await asService<{ c: any }>("select public.ai_reply_context($1) as c", [messageId])).c;
const postReply = async (messageId: string, content: string | null, extra: Record<string, unknown> = {}) =>
  (await asService<{ r: any }>(
    "select public.ai_post_reply(message_id => $1, content => $2, model => $3, prompt_tokens => $4, completion_tokens => $5, llm_latency_ms => $6, is_fallback => $7, error => $8, claim_token => $9) as r",
    [messageId, content, extra.model ?? "test-model", extra.prompt_tokens ?? 10, extra.completion_tokens ?? 5, extra.llm_latency_ms ?? 42, extra.is_fallback ?? false, extra.error ?? null, extra.claim_token ?? null],
  )).r;
const job = async (messageId: string) =>
  (await db.pool.query("select * from public.ai_reply_jobs where message_id = $1", [messageId])).rows[0];

async function conversationWithMessage(settings = {}, content = "Hello") {
  const projectId = await createProject(db.pool, settings);
  const { visitorId, conversationId } = await startConversation(db.pool, projectId);
  const messageId = await visitorSays(db.pool, visitorId, conversationId, content);
  return { projectId, visitorId, conversationId, messageId };
}

describe("ai_reply_context", () => {
  it("answers reply with the project's settings and claims the message", async () => {
    const { projectId, conversationId, messageId } = await conversationWithMessage({
      ai_system_prompt: "Be a baker.", ai_fallback_message: "Back soon.", ai_model: "openai/gpt-oss-120b",
    });
    expect(await context(messageId)).toMatchObject({
      action: "reply",
      conversation_id: conversationId,
      project: { id: projectId, model: "openai/gpt-oss-120b", system_prompt: "Be a baker.", fallback_message: "Back soon.", max_prompt_tokens: 4000, max_completion_tokens: 1024 },
      history: [{ from_customer: true, content: "Hello" }],
      claim_token: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect((await job(messageId)).claimed_until).not.toBeNull();
  });

  it("skips while the AI is off, and records why", async () => {
    const { projectId, messageId } = await conversationWithMessage();
    await db.pool.query("update public.projects set ai_enabled = false where id = $1", [projectId]);
    expect(await context(messageId)).toEqual({ action: "skip", reason: "ai_disabled" });
    expect((await job(messageId)).outcome).toBe("ai_disabled");
  });

  it("skips a conversation a human agent has taken over", async () => {
    const { conversationId, messageId } = await conversationWithMessage();
    await agentSays(db.pool, conversationId, "Ana here");
    expect(await context(messageId)).toEqual({ action: "skip", reason: "handed_off" });
  });

  it("skips a message already answered", async () => {
    const { messageId } = await conversationWithMessage();
    await context(messageId);
    await postReply(messageId, "Answer");
    expect(await context(messageId)).toEqual({ action: "skip", reason: "already_answered" });
    expect((await job(messageId)).outcome).toBe("answered");
  });

  it("skips a message when a newer visitor message is waiting: that one gets the answer", async () => {
    const { visitorId, conversationId, messageId } = await conversationWithMessage();
    const newer = await visitorSays(db.pool, visitorId, conversationId, "Are you there?");
    expect(await context(messageId)).toEqual({ action: "skip", reason: "superseded" });
    expect(await context(newer)).toMatchObject({ action: "reply" });
  });

  it("does not answer later a message skipped while the AI was off, even once it is back on", async () => {
    const { projectId, messageId } = await conversationWithMessage();
    await db.pool.query("update public.projects set ai_enabled = false where id = $1", [projectId]);
    await context(messageId);
    await db.pool.query("update public.projects set ai_enabled = true where id = $1", [projectId]);
    expect(await context(messageId)).toEqual({ action: "skip", reason: "already_handled" });
  });

  it("lets only one caller claim a message at a time (a duplicate delivery stands back)", async () => {
    const { messageId } = await conversationWithMessage();
    const results = await Promise.all([context(messageId), context(messageId), context(messageId)]);
    expect(results.filter((r) => r.action === "reply")).toHaveLength(1);
    expect(results.filter((r) => r.reason === "in_progress")).toHaveLength(2);
  });

  it("lets a caller claim again once the previous claim has expired", async () => {
    const { messageId } = await conversationWithMessage();
    await context(messageId);
    await db.pool.query("update public.ai_reply_jobs set claimed_until = now() - interval '1 second' where message_id = $1", [messageId]);
    expect(await context(messageId)).toMatchObject({ action: "reply" });
  });

  it("returns the latest ai_history_limit messages, oldest first, all senders", async () => {
    const projectId = await createProject(db.pool, { ai_history_limit: 4 });
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    await db.pool.query("update public.projects set ai_enabled = false where id = $1", [projectId]);
    for (let i = 1; i <= 5; i++) {
      const id = await visitorSays(db.pool, visitorId, conversationId, `visitor ${i}`);
      await db.pool.query(
        "insert into public.messages (conversation_id, sender_id, from_customer, content, reply_to) values ($1, 'AI_BOT', false, $2, $3)",
        [conversationId, `ai ${i}`, id],
      );
    }
    await db.pool.query("update public.projects set ai_enabled = true where id = $1", [projectId]);
    const last = await visitorSays(db.pool, visitorId, conversationId, "visitor 6");
    const { history } = await context(last);
    expect(history.map((m: { content: string }) => m.content)).toEqual(["ai 4", "visitor 5", "ai 5", "visitor 6"]);
    expect(history.map((m: { from_customer: boolean }) => m.from_customer)).toEqual([false, true, false, true]);
  });

  it("skips what is not a visitor message", async () => {
    const { conversationId } = await conversationWithMessage();
    const agentMessage = await agentSays(db.pool, conversationId, "agent");
    expect(await context(agentMessage)).toEqual({ action: "skip", reason: "not_a_visitor_message" });
    expect(await context("00000000-0000-4000-8000-00000000dead")).toEqual({ action: "skip", reason: "message_not_found" });
  });
});

describe("ai_post_reply", () => {
  it("posts one AI_BOT reply, updates last_message, and records usage", async () => {
    const { conversationId, messageId } = await conversationWithMessage();
    await context(messageId);
    const result = await postReply(messageId, "We open at 7.", { prompt_tokens: 120, completion_tokens: 9, llm_latency_ms: 321, model: "openai/gpt-oss-20b" });
    expect(result).toMatchObject({ posted: true });
    const replies = await aiRepliesOf(db.pool, conversationId);
    expect(replies).toEqual([{ id: result.reply_id, sender_id: "AI_BOT", from_customer: false, content: "We open at 7.", reply_to: messageId }]);
    const { rows } = await db.pool.query("select last_message from public.conversations where id = $1", [conversationId]);
    expect(rows[0].last_message).toBe("We open at 7.");
    expect(await job(messageId)).toMatchObject({
      outcome: "answered", model: "openai/gpt-oss-20b", prompt_tokens: 120, completion_tokens: 9, llm_latency_ms: 321, claimed_until: null,
    });
  });

  it("posting twice for one visitor message leaves one reply", async () => {
    const { conversationId, messageId } = await conversationWithMessage();
    const results = await Promise.all([postReply(messageId, "one"), postReply(messageId, "two")]);
    expect(results.filter((r) => r.posted)).toHaveLength(1);
    expect(results.filter((r) => r.reason === "already_answered")).toHaveLength(1);
    expect(await aiRepliesOf(db.pool, conversationId)).toHaveLength(1);
  });

  it("re-checks the flag at the instant of posting: AI switched off meanwhile, no reply", async () => {
    const { projectId, conversationId, messageId } = await conversationWithMessage();
    await context(messageId);
    await db.pool.query("update public.projects set ai_enabled = false where id = $1", [projectId]);
    expect(await postReply(messageId, "late answer")).toEqual({ posted: false, reason: "ai_disabled" });
    expect(await aiRepliesOf(db.pool, conversationId)).toEqual([]);
  });

  it("re-checks the handoff at the instant of posting: an agent wrote meanwhile, no reply", async () => {
    const { conversationId, messageId } = await conversationWithMessage();
    await context(messageId);
    await agentSays(db.pool, conversationId, "I'm on it");
    expect(await postReply(messageId, "late answer")).toEqual({ posted: false, reason: "handed_off" });
    expect(await aiRepliesOf(db.pool, conversationId)).toEqual([]);
  });

  it("records an LLM failure with no fallback text without posting, and releases the claim", async () => {
    const { conversationId, messageId } = await conversationWithMessage();
    const { claim_token } = await context(messageId);
    expect(await postReply(messageId, null, { error: "http 500", is_fallback: true, claim_token })).toEqual({ posted: false, reason: "no_content" });
    expect(await aiRepliesOf(db.pool, conversationId)).toEqual([]);
    expect(await job(messageId)).toMatchObject({ outcome: null, error: "http 500", claimed_until: null });
  });

  it("marks a fallback reply as such", async () => {
    const { messageId } = await conversationWithMessage();
    await context(messageId);
    await postReply(messageId, "Sorry, back soon", { is_fallback: true, error: "timeout" });
    expect(await job(messageId)).toMatchObject({ outcome: "fallback", error: "timeout" });
  });

  it("cuts a reply longer than a message may be", async () => {
    const { conversationId, messageId } = await conversationWithMessage();
    await postReply(messageId, "x".repeat(5000));
    expect((await aiRepliesOf(db.pool, conversationId))[0]!.content).toHaveLength(4000);
  });
});
