// Signed webhooks, end to end: the trigger signs with pgcrypto and the Vault key, pg_net sends,
// the function on Deno verifies. Whatever is tampered with, the function answers 401 and
// nothing happens: no claim, no LLM call, no reply.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../local/stack.ts";
import { aiRepliesOf, createProject, marker, startConversation, visitorSays, waitFor, webhookHeaders } from "./helpers.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

const payloadOf = async (messageId: string) => {
  const { rows } = await stack.pool.query("select to_jsonb(m) as record from public.messages m where id = $1", [messageId]);
  return JSON.stringify({ type: "INSERT", table: "messages", schema: "public", record: rows[0].record, old_record: null });
};
const send = (body: string, headers: Record<string, string>) =>
  fetch(stack.functionUrl, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body });

/** A visitor message in a project whose AI is off: the trigger sends nothing, so only a forged delivery could get it answered. */
async function unansweredMessage(): Promise<{ messageId: string; conversationId: string; text: string }> {
  const projectId = await createProject(stack.pool, { ai_enabled: false });
  const { visitorId, conversationId } = await startConversation(stack.pool, projectId);
  const text = marker();
  const messageId = await visitorSays(stack.pool, visitorId, conversationId, `answer me ${text}`);
  return { messageId, conversationId, text };
}

/** Proves the pipeline had its chance: a later message elsewhere is answered. */
async function barrier(): Promise<void> {
  const projectId = await createProject(stack.pool);
  const { visitorId, conversationId } = await startConversation(stack.pool, projectId);
  await visitorSays(stack.pool, visitorId, conversationId, `barrier ${marker()}`);
  await waitFor("the barrier's reply", async () => (await aiRepliesOf(stack.pool, conversationId)).length === 1);
}

async function expectNothingHappened(messageId: string, conversationId: string, text: string): Promise<void> {
  await barrier();
  expect(await aiRepliesOf(stack.pool, conversationId)).toEqual([]);
  expect(stack.llm!.requestsMentioning(text)).toEqual([]);
  expect((await stack.pool.query("select 1 from public.ai_reply_jobs where message_id = $1", [messageId])).rows).toEqual([]);
}

describe("signed webhooks", () => {
  it("the trigger's signature, made in SQL over the body pg_net sends, is accepted by the function", async () => {
    const projectId = await createProject(stack.pool);
    const { visitorId, conversationId } = await startConversation(stack.pool, projectId);
    const id = await visitorSays(stack.pool, visitorId, conversationId, `signed ${marker()} ünïcödé 漢字 "quotes" \\ back`);
    await waitFor("the reply", async () => (await aiRepliesOf(stack.pool, conversationId)).length === 1);
    const { rows } = await stack.pool.query(
      "select r.status_code from public.ai_reply_jobs j join net._http_response r on r.id = j.last_request_id where j.message_id = $1",
      [id],
    );
    expect(rows).toEqual([{ status_code: 202 }]);
  });

  it.each([
    ["signed with a wrong key of the same length and prefix", (body: string, id: string) =>
      webhookHeaders(body, stack.webhookSecret.slice(0, -1) + (stack.webhookSecret.endsWith("A") ? "B" : "A"), { id }), "unauthorized: webhook-signature does not match (signed with AI_RESPONDER_WEBHOOK_SECRET over webhook-id.webhook-timestamp.body)"],
    ["signed 5 minutes and 5 seconds ago", (body: string, id: string) =>
      webhookHeaders(body, stack.webhookSecret, { id, at: Math.floor(Date.now() / 1000) - 305 }), "unauthorized: webhook-timestamp is more than 5 minutes from now"],
    ["stamped 5 minutes and 5 seconds in the future", (body: string, id: string) =>
      webhookHeaders(body, stack.webhookSecret, { id, at: Math.floor(Date.now() / 1000) + 305 }), "unauthorized: webhook-timestamp is more than 5 minutes from now"],
    ["whose signature differs from the right one in its last characters only", (body: string, id: string) => {
      const headers = webhookHeaders(body, stack.webhookSecret, { id });
      const signature = headers["webhook-signature"]!;
      // "v1," + 43 base64 characters + "=": change the last significant character.
      const last = signature.at(-2) === "A" ? "E" : "A";
      return { ...headers, "webhook-signature": `${signature.slice(0, -2)}${last}=` };
    }, "unauthorized: webhook-signature does not match (signed with AI_RESPONDER_WEBHOOK_SECRET over webhook-id.webhook-timestamp.body)"],
    ["whose right signature carries another version than v1", (body: string, id: string) => {
      const headers = webhookHeaders(body, stack.webhookSecret, { id });
      return { ...headers, "webhook-signature": headers["webhook-signature"]!.replace(/^v1,/, "v2,") };
    }, "unauthorized: webhook-signature does not match (signed with AI_RESPONDER_WEBHOOK_SECRET over webhook-id.webhook-timestamp.body)"],
    ["without signature headers", () => ({}), "unauthorized: webhook-id, webhook-timestamp and webhook-signature headers are required"],
  ])("refuses a delivery %s with 401, and nothing happens", async (_name, headersFor, error) => {
    const { messageId, conversationId, text } = await unansweredMessage();
    await stack.pool.query("update public.projects set ai_enabled = true where id = (select project_id from public.conversations where id = $1)", [conversationId]);
    const body = await payloadOf(messageId);
    const response = await send(body, headersFor(body, messageId));
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error });
    await expectNothingHappened(messageId, conversationId, text);
  });

  it("accepts a genuine signature stamped 4 minutes 50 seconds ago, among other signatures (key rotation)", async () => {
    const { messageId, conversationId } = await unansweredMessage();
    await stack.pool.query("update public.projects set ai_enabled = true where id = (select project_id from public.conversations where id = $1)", [conversationId]);
    const body = await payloadOf(messageId);
    const headers = webhookHeaders(body, stack.webhookSecret, { id: messageId, at: Math.floor(Date.now() / 1000) - 290 });
    const rotated = webhookHeaders(body, "an-older-key-being-rotated-out", { id: messageId, at: Math.floor(Date.now() / 1000) - 290 });
    const response = await send(body, { ...headers, "webhook-signature": `${rotated["webhook-signature"]} ${headers["webhook-signature"]}` });
    expect(response.status).toBe(202);
    await waitFor("the reply", async () => (await aiRepliesOf(stack.pool, conversationId)).length === 1);
  });

  it("refuses a genuine signature on a body changed by one character, or replayed for another message id", async () => {
    // A genuine signed delivery for one message...
    const genuine = await unansweredMessage();
    const genuineBody = await payloadOf(genuine.messageId);
    const genuineHeaders = webhookHeaders(genuineBody, stack.webhookSecret, { id: genuine.messageId });
    // ...reused for another message (AI on), whose body differs in the id and content.
    const target = await unansweredMessage();
    await stack.pool.query("update public.projects set ai_enabled = true where id = (select project_id from public.conversations where id = $1)", [target.conversationId]);
    const targetBody = await payloadOf(target.messageId);

    const oneCharacter = genuineBody.replace("answer me", "answer mE");
    expect((await send(oneCharacter, genuineHeaders)).status).toBe(401);
    expect((await send(targetBody, genuineHeaders)).status).toBe(401);
    expect((await send(targetBody, { ...genuineHeaders, "webhook-id": target.messageId })).status).toBe(401);
    expect((await send(genuineBody, { ...genuineHeaders, "webhook-id": target.messageId })).status).toBe(401);
    await expectNothingHappened(target.messageId, target.conversationId, target.text);
  });
});
