import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../local/stack.ts";
import { sweepConversation } from "./scheduled.ts";
import {
  agentSays, aiRepliesOf, createProject, marker, messagesOf, type ProjectSettings, startConversation, visitorSays, waitFor, webhookHeaders,
} from "./helpers.ts";

// The whole pipeline: visitor insert -> trigger -> pg_net worker -> gateway -> ai-responder
// on Deno -> SQL API -> reply row. Only the LLM is a stand-in (recording what it receives).
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

async function newConversation(settings: ProjectSettings = {}) {
  const projectId = await createProject(stack.pool, settings);
  return { projectId, ...(await startConversation(stack.pool, projectId)) };
}

const waitForReplies = (conversationId: string, count = 1) =>
  waitFor(`${count} AI repl${count === 1 ? "y" : "ies"}`, async () => {
    const replies = await aiRepliesOf(stack.pool, conversationId);
    return replies.length >= count && replies;
  });

/**
 * Proves the pipeline has had its chance: a message in another AI-on conversation, sent after
 * the one that must stay unanswered, is answered. The silence before it is then meaningful.
 */
async function pipelineBarrier(): Promise<void> {
  const { visitorId, conversationId } = await newConversation();
  await visitorSays(stack.pool, visitorId, conversationId, `barrier ${marker()}`);
  await waitForReplies(conversationId);
}

/** Silence that lasts: the retry sweeper's pass, as scheduled, then the pipeline's chance again. */
async function silenceOutlastsTheSweeper(conversationId: string): Promise<void> {
  await pipelineBarrier();
  await sweepConversation(stack.pool, conversationId);
  await pipelineBarrier();
}

/** The webhook of a message has been delivered and accepted (202), so its run has begun. */
const webhookAccepted = (messageId: string) =>
  waitFor("the webhook's 202", async () => {
    const { rows } = await stack.pool.query(
      "select r.status_code from public.ai_reply_jobs j join net._http_response r on r.id = j.last_request_id where j.message_id = $1",
      [messageId],
    );
    return rows[0]?.status_code === 202;
  });

/** Delivers a webhook by hand, signed as the trigger signs it (with another secret if given). */
const deliver = (body: string, secret = stack.webhookSecret, init: RequestInit = {}) =>
  fetch(stack.functionUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...webhookHeaders(body, secret) },
    body,
    ...init,
  });

const webhookFor = async (messageId: string) => {
  const { rows } = await stack.pool.query("select to_jsonb(m) as record from public.messages m where id = $1", [messageId]);
  return JSON.stringify({ type: "INSERT", table: "messages", schema: "public", record: rows[0].record, old_record: null });
};

describe("with the AI on", () => {
  it("answers a visitor message with exactly one AI_BOT reply and updates last_message", async () => {
    const { visitorId, conversationId } = await newConversation();
    const question = `When do you open? ${marker()}`;
    const messageId = await visitorSays(stack.pool, visitorId, conversationId, question);

    const [reply] = await waitForReplies(conversationId);
    expect(reply).toMatchObject({ sender_id: "AI_BOT", from_customer: false, reply_to: messageId });
    expect(reply!.content).toContain(question);
    const { rows } = await stack.pool.query("select last_message from public.conversations where id = $1", [conversationId]);
    expect(rows[0].last_message).toBe(reply!.content);
    await pipelineBarrier();
    expect(await aiRepliesOf(stack.pool, conversationId)).toHaveLength(1);
    expect(stack.llm!.requestsMentioning(question)).toHaveLength(1);
  });

  it("sends the LLM the system prompt and the last 10 messages, oldest first, with the right roles", async () => {
    const { projectId, visitorId, conversationId } = await newConversation({ ai_enabled: false, ai_system_prompt: "You sell only croissants." });
    const history: { content: string; role: "user" | "assistant" }[] = [];
    for (let i = 1; i <= 6; i++) {
      const content = `visitor line ${i}`;
      const id = await visitorSays(stack.pool, visitorId, conversationId, content);
      history.push({ role: "user", content });
      await stack.pool.query(
        "insert into public.messages (conversation_id, sender_id, from_customer, content, reply_to) values ($1, 'AI_BOT', false, $2, $3)",
        [conversationId, `ai line ${i}`, id],
      );
      history.push({ role: "assistant", content: `ai line ${i}` });
    }
    await stack.pool.query("update public.projects set ai_enabled = true where id = $1", [projectId]);
    const question = `Any croissants left? ${marker()}`;
    await visitorSays(stack.pool, visitorId, conversationId, question);
    history.push({ role: "user", content: question });

    await waitForReplies(conversationId, 7);
    const [request] = stack.llm!.requestsMentioning(question);
    expect(request!.body.messages).toEqual([{ role: "system", content: "You sell only croissants." }, ...history.slice(-10)]);
    expect(request!.body.model).toBe("openai/gpt-oss-20b");
  });

  it("answers a burst of three visitor messages once, with all three in context", async () => {
    const { visitorId, conversationId } = await newConversation({ ai_reply_delay_ms: 3000 });
    const burst = [`Hi ${marker()}`, `I need a cake ${marker()}`, `for Saturday ${marker()}`];
    // Each sent once the previous one's run has begun: only the reply delay coalesces them.
    for (const line of burst) await webhookAccepted(await visitorSays(stack.pool, visitorId, conversationId, line));

    const [reply] = await waitForReplies(conversationId);
    expect(reply!.content).toContain(burst[2]);
    await pipelineBarrier();
    expect(await aiRepliesOf(stack.pool, conversationId)).toHaveLength(1);
    const requests = stack.llm!.requestsMentioning(burst[0]!);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.body.messages.slice(1).map((m) => m.content)).toEqual(burst);
  });

  it("answers once however often the same webhook is delivered", async () => {
    const { visitorId, conversationId } = await newConversation({ ai_reply_delay_ms: 300 });
    const question = `Duplicate? ${marker()}`;
    const messageId = await visitorSays(stack.pool, visitorId, conversationId, question);
    const payload = await webhookFor(messageId);
    const statuses = await Promise.all([deliver(payload), deliver(payload), deliver(payload)].map(async (r) => (await r).status));
    expect(statuses).toEqual([202, 202, 202]);

    await waitForReplies(conversationId);
    await pipelineBarrier();
    expect(await aiRepliesOf(stack.pool, conversationId)).toHaveLength(1);
    expect(stack.llm!.requestsMentioning(question)).toHaveLength(1);
  });
});

describe("staying silent", () => {
  it("does not answer while the project's AI is off, and no LLM request is made", async () => {
    const { visitorId, conversationId } = await newConversation({ ai_enabled: false });
    const question = `Hello? ${marker()}`;
    await visitorSays(stack.pool, visitorId, conversationId, question);
    await silenceOutlastsTheSweeper(conversationId);
    expect(await aiRepliesOf(stack.pool, conversationId)).toEqual([]);
    expect(stack.llm!.requestsMentioning(question)).toEqual([]);
  });

  it("does not answer agent messages or AI replies", async () => {
    const { conversationId } = await newConversation();
    const agentLine = `Agent speaking ${marker()}`;
    await agentSays(stack.pool, conversationId, agentLine);
    await stack.pool.query(
      "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, 'AI_BOT', false, $2)",
      [conversationId, `A manual AI line ${marker()}`],
    );
    await pipelineBarrier();
    expect((await messagesOf(stack.pool, conversationId)).map((m) => m.sender_id)).toEqual(["agent-1", "AI_BOT"]);
    expect(stack.llm!.requestsMentioning(agentLine)).toEqual([]);
  });

  it("stays silent in a conversation a human agent has taken over, until it is handed back", async () => {
    const { visitorId, conversationId } = await newConversation();
    await agentSays(stack.pool, conversationId, "Ana here, I'll help you", "agent-ana");
    const ignored = `Thanks Ana ${marker()}`;
    await visitorSays(stack.pool, visitorId, conversationId, ignored);
    await silenceOutlastsTheSweeper(conversationId);
    expect(await aiRepliesOf(stack.pool, conversationId)).toEqual([]);
    expect(stack.llm!.requestsMentioning(ignored)).toEqual([]);

    await stack.pool.query("update public.conversations set handed_off_to = null where id = $1", [conversationId]);
    await visitorSays(stack.pool, visitorId, conversationId, `Back to the bot ${marker()}`);
    await waitForReplies(conversationId);
  });

  it("takes a flip of ai_enabled into account for the very next message", async () => {
    const { projectId, visitorId, conversationId } = await newConversation();
    await visitorSays(stack.pool, visitorId, conversationId, `first ${marker()}`);
    await waitForReplies(conversationId, 1);

    await stack.pool.query("update public.projects set ai_enabled = false where id = $1", [projectId]);
    const unanswered = `second ${marker()}`;
    await visitorSays(stack.pool, visitorId, conversationId, unanswered);
    await silenceOutlastsTheSweeper(conversationId);
    expect(await aiRepliesOf(stack.pool, conversationId)).toHaveLength(1);
    expect(stack.llm!.requestsMentioning(unanswered)).toEqual([]);

    await stack.pool.query("update public.projects set ai_enabled = true where id = $1", [projectId]);
    await visitorSays(stack.pool, visitorId, conversationId, `third ${marker()}`);
    await waitForReplies(conversationId, 2);
  });

  it("answers a delivered agent record with 200 skipped and makes no LLM call", async () => {
    const { conversationId } = await newConversation();
    const agentLine = `agent via webhook ${marker()}`;
    const agentMessage = await agentSays(stack.pool, conversationId, agentLine);
    const response = await deliver(await webhookFor(agentMessage));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ skipped: "not a visitor message (from_customer is false)" });
    expect(stack.llm!.requestsMentioning(agentLine)).toEqual([]);
  });
});

describe("bad requests change nothing", () => {
  async function snapshot() {
    const { rows } = await stack.pool.query(
      "select (select count(*) from public.messages) as messages, (select count(*) from public.ai_reply_jobs) as jobs",
    );
    return rows[0];
  }

  it("401 for a wrong or missing signature, before anything is read", async () => {
    const { projectId, visitorId, conversationId } = await newConversation({ ai_enabled: false });
    const messageId = await visitorSays(stack.pool, visitorId, conversationId, "Hello");
    await stack.pool.query("update public.projects set ai_enabled = true where id = $1", [projectId]);
    const payload = await webhookFor(messageId);

    // A near miss: the right secret but for its last character.
    const nearMiss = stack.webhookSecret.slice(0, -1) + (stack.webhookSecret.endsWith("x") ? "y" : "x");
    const wrong = await deliver(payload, nearMiss);
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: "unauthorized: webhook-signature does not match (signed with AI_RESPONDER_WEBHOOK_SECRET over webhook-id.webhook-timestamp.body)" });
    const missing = await fetch(stack.functionUrl, { method: "POST", body: payload });
    expect(missing.status).toBe(401);
    // The old bearer secret opens nothing any more.
    const bearer = await fetch(stack.functionUrl, { method: "POST", body: payload, headers: { Authorization: `Bearer ${stack.webhookSecret}` } });
    expect(bearer.status).toBe(401);
    await pipelineBarrier();
    expect(await aiRepliesOf(stack.pool, conversationId)).toEqual([]);
    // Nothing read or claimed: the message never got a job (it was written while the AI was off).
    expect((await stack.pool.query("select 1 from public.ai_reply_jobs where message_id = $1", [messageId])).rows).toEqual([]);
  });

  it.each([
    ["malformed JSON", "{\"type\": \"INSERT\",", "bad request: body is not valid JSON"],
    ["a payload of the wrong shape", JSON.stringify({ type: "INSERT", table: "messages" }), "bad request: schema: Invalid input: expected string, received undefined"],
    ["a record with a bad id", JSON.stringify({ type: "INSERT", table: "messages", schema: "public", old_record: null, record: { id: "x", conversation_id: "00000000-0000-4000-8000-000000000001", sender_id: "v", from_customer: true, content: "hi", created_at: "2026-11-24T10:00:00+00:00" } }), "bad request: record.id: Invalid UUID"],
  ])("400 for %s, naming the problem", async (_name, body, error) => {
    const before = await snapshot();
    const response = await deliver(body);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error });
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ["just over the limit", 100_000],
    ["a megabyte", 1_000_000],
    ["ten megabytes", 10_000_000],
  ])("413 for an oversized body (%s), read to its end so that the caller gets the answer, not a reset", async (_name, size) => {
    const before = await snapshot();
    const body = JSON.stringify({ type: "INSERT", table: "messages", schema: "public", old_record: null, record: { padding: "x".repeat(size) } });
    const response = await deliver(body);
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ error: "payload too large: body is larger than 65536 bytes" });
    expect(await snapshot()).toEqual(before);
  });

  it("200 skipped for another table's webhook, 405 for a GET", async () => {
    const other = await deliver(JSON.stringify({ type: "INSERT", table: "projects", schema: "public", record: {}, old_record: null }));
    expect(other.status).toBe(200);
    expect(await other.json()).toEqual({ skipped: "not a messages webhook (public.projects)" });
    const get = await fetch(stack.functionUrl, { headers: webhookHeaders("", stack.webhookSecret) });
    expect(get.status).toBe(405);
  });

  it("never logs the webhook secret, the API key, or what visitors wrote", async () => {
    const { visitorId, conversationId } = await newConversation();
    const secretText = `my card number is ${marker()}`;
    const messageId = await visitorSays(stack.pool, visitorId, conversationId, secretText);
    await waitForReplies(conversationId);
    await waitFor("the message's log line", async () => stack.edgeFunction.logs.some((line) => line.includes(messageId)));
    const logs = stack.edgeFunction.logs.join("\n");
    for (const needle of [stack.webhookSecret, stack.llm!.apiKey, stack.keys.secretKey, secretText]) {
      expect(logs).not.toContain(needle);
    }
  });
});
