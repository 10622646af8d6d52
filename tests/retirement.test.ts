import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../local/stack.ts";
import { aiRepliesOf, createProject, marker, startConversation, visitorSays, waitFor } from "./helpers.ts";

// Edge Function workers retire (wall clock, CPU, memory, deploys) with a beforeunload event and
// their background work dies with them. The production defaults run here: a 40 s LLM deadline,
// so a claim of 45 s, and the sweeper every 5 s with a 10 s grace.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

const CLAIM_SECONDS = 45;

async function messageBeingAnswered(text: string) {
  // The first LLM call hangs until the instance is gone; a later one answers at once.
  stack.llm!.script(text, [{ delayMs: 60_000 }]);
  const projectId = await createProject(stack.pool);
  const { visitorId, conversationId } = await startConversation(stack.pool, projectId);
  const messageId = await visitorSays(stack.pool, visitorId, conversationId, text);
  await waitFor("the LLM call in flight", async () => stack.llm!.requestsMentioning(text).length === 1);
  return { conversationId, messageId };
}

const job = async (messageId: string) =>
  (await stack.pool.query<{ claimed: boolean; released: boolean; dispatch_count: number }>(
    "select coalesce(claimed_until > now(), false) as claimed, released_at is not null as released, dispatch_count from public.ai_reply_jobs where message_id = $1",
    [messageId],
  )).rows[0]!;

describe("a function instance retiring mid-answer", () => {
  it("gives its claim back on beforeunload, and the sweeper gets the message answered well before the claim would lapse", async () => {
    const text = `retiring ${marker()}`;
    const { conversationId, messageId } = await messageBeingAnswered(text);
    expect(await job(messageId)).toMatchObject({ claimed: true, released: false });

    const retired = Date.now();
    await stack.edgeFunction.stop(); // SIGTERM: the runtime's beforeunload, then exit
    expect(await job(messageId)).toMatchObject({ claimed: false, released: true });
    expect(stack.edgeFunction.logs.some((line) => line.includes('"event":"retiring"') && line.includes('"released":1'))).toBe(true);
    await stack.edgeFunction.start();

    const [reply] = await waitFor("the reply after retirement", async () => {
      const replies = await aiRepliesOf(stack.pool, conversationId);
      return replies.length > 0 && replies;
    }, { timeoutMs: 30_000 });
    const seconds = (Date.now() - retired) / 1000;
    console.log(JSON.stringify({ scenario: "instance retired mid-answer", seconds_to_reply: seconds }));
    expect(seconds).toBeLessThan(CLAIM_SECONDS);
    expect(reply!.reply_to).toBe(messageId);
    expect(await job(messageId)).toMatchObject({ dispatch_count: 2, released: false });
    expect(await aiRepliesOf(stack.pool, conversationId)).toHaveLength(1);
  }, 60_000);

  it("keeps the claim when the instance dies without the event (a crash): the sweeper waits for it to lapse", async () => {
    const text = `crashing ${marker()}`;
    const { messageId } = await messageBeingAnswered(text);
    await stack.edgeFunction.kill(); // SIGKILL: no beforeunload
    await stack.edgeFunction.start();
    expect(await job(messageId)).toMatchObject({ claimed: true, released: false, dispatch_count: 1 });
    stack.llm!.clearScript(text);
  }, 60_000);
});
