import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../local/stack.ts";
import { createProject, startConversation, visitorSays } from "./helpers.ts";
import { settled } from "./outcomes.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

describe("under load", () => {
  it("answers every one of 200 conversations each sending 5 messages at once: no duplicate, no error", async () => {
    const projectId = await createProject(stack.pool, { ai_reply_delay_ms: 600 });
    const talkers = await Promise.all(Array.from({ length: 200 }, () => startConversation(stack.pool, projectId)));
    const logsBefore = stack.edgeFunction.logs.length;

    const started = Date.now();
    const ids = (await Promise.all(talkers.map(async ({ visitorId, conversationId }, t) => {
      const sent: string[] = [];
      for (let i = 0; i < 5; i++) sent.push(await visitorSays(stack.pool, visitorId, conversationId, `load ${t}.${i}: do you have gluten-free bread?`));
      return sent;
    }))).flat();
    const outcomes = await settled(stack.pool, ids, 180_000);
    const drainSeconds = (Date.now() - started) / 1000;

    const { rows: [answeredConversations] } = await stack.pool.query(
      `select count(distinct m.conversation_id)::int as n from public.messages m
       where m.sender_id = 'AI_BOT' and m.conversation_id = any($1)`,
      [talkers.map((t) => t.conversationId)],
    );
    const { rows: [failedDeliveries] } = await stack.pool.query(
      `select count(*)::int as n from public.ai_reply_jobs j join net._http_response r on r.id = j.last_request_id
       where j.message_id = any($1) and (r.status_code is null or r.status_code >= 500)`,
      [ids],
    );
    const errors = stack.edgeFunction.logs.slice(logsBefore).filter((line) => line.includes('"outcome":"error"') || line.includes('"outcome":"failed"'));
    console.log(JSON.stringify({ scenario: "200 conversations x 5 messages", ...outcomes, conversations_answered: answeredConversations.n, failed_deliveries: failedDeliveries.n, function_errors: errors.length, drain_seconds: drainSeconds }));

    expect(answeredConversations.n).toBe(200);
    expect(outcomes).toMatchObject({ messages: 1000, unanswered: 0, duplicated: 0, failed: 0 });
    expect(outcomes.answered + outcomes.coalesced).toBe(1000);
    expect(failedDeliveries.n).toBe(0);
    expect(errors).toEqual([]);
  }, 240_000);
});
