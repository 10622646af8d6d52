import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../local/stack.ts";
import { aiRepliesOf, createProject, marker, startConversation, visitorSays, waitFor } from "./helpers.ts";
import { sweepConversation } from "./scheduled.ts";

// The stand-in LLM misbehaves for messages carrying a test's marker; the function runs with
// short LLM limits so that retries and timeouts play out in seconds.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    functionEnv: { GROQ_TIMEOUT_MS: "1000", GROQ_MAX_RETRIES: "2", AI_RESPONDER_LLM_DEADLINE_MS: "10000" },
  });
});
afterAll(() => stack?.stop());

const FALLBACK = "Sorry, our assistant is unavailable. A person will reply soon.";

async function ask(question: string, settings = { ai_fallback_message: FALLBACK as string | null }) {
  const projectId = await createProject(stack.pool, settings);
  const { visitorId, conversationId } = await startConversation(stack.pool, projectId);
  const messageId = await visitorSays(stack.pool, visitorId, conversationId, question);
  return { conversationId, messageId };
}

const job = (messageId: string) =>
  stack.pool.query("select outcome, error, model, llm_latency_ms, claimed_until from public.ai_reply_jobs where message_id = $1", [messageId])
    .then((r) => r.rows[0]);
const finished = (messageId: string) =>
  waitFor("the job to finish", async () => {
    const row = await job(messageId);
    return (row?.outcome || row?.error) && row;
  });

describe("when Groq misbehaves", () => {
  it("waits out a 429's retry-after, then answers once", async () => {
    const question = `Rate limited? ${marker()}`;
    stack.llm!.script(question, [{ status: 429, retryAfterSeconds: 1 }]);
    const { conversationId, messageId } = await ask(question);

    const [reply] = await waitFor("the reply", async () => {
      const replies = await aiRepliesOf(stack.pool, conversationId);
      return replies.length > 0 && replies;
    });
    expect(reply!.content).toContain(question);
    const requests = stack.llm!.requestsMentioning(question);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(await job(messageId)).toMatchObject({ outcome: "answered", error: null });
  });

  it("posts the fallback text once when every try fails with 500, and records the failure", async () => {
    const question = `Server down? ${marker()}`;
    stack.llm!.script(question, [{ status: 500 }], { always: true });
    const { conversationId, messageId } = await ask(question);

    expect(await finished(messageId)).toMatchObject({ outcome: "fallback", error: "http 500", claimed_until: null });
    const replies = await aiRepliesOf(stack.pool, conversationId);
    expect(replies.map((r) => r.content)).toEqual([FALLBACK]);
    expect(stack.llm!.requestsMentioning(question)).toHaveLength(3); // the first try and 2 retries
    stack.llm!.clearScript(question);
  });

  it("posts the fallback text when the LLM is slower than the timeout", async () => {
    const question = `Slow? ${marker()}`;
    stack.llm!.script(question, [{ delayMs: 5000 }], { always: true });
    const { conversationId, messageId } = await ask(question);

    expect(await finished(messageId)).toMatchObject({ outcome: "fallback", error: "timeout" });
    expect((await aiRepliesOf(stack.pool, conversationId)).map((r) => r.content)).toEqual([FALLBACK]);
    stack.llm!.clearScript(question);
  });

  it("posts nothing without fallback text, records why, and leaves the message open for a retry", async () => {
    const question = `No fallback? ${marker()}`;
    stack.llm!.script(question, [{ status: 500 }], { always: true });
    const { conversationId, messageId } = await ask(question, { ai_fallback_message: null });

    expect(await finished(messageId)).toMatchObject({ outcome: null, error: "http 500", claimed_until: null });
    expect(await aiRepliesOf(stack.pool, conversationId)).toEqual([]);
    stack.llm!.clearScript(question);
    // The promised retry: the sweeper's next pass sends it again, and the recovered LLM answers it, once.
    await sweepConversation(stack.pool, conversationId);
    await waitFor("the retry's reply", async () => (await aiRepliesOf(stack.pool, conversationId)).length === 1);
    await waitFor("the job answered", async () => (await stack.pool.query("select outcome from public.ai_reply_jobs where message_id = $1", [messageId])).rows[0].outcome === "answered");
    const { rows: [retried] } = await stack.pool.query("select dispatch_count from public.ai_reply_jobs where message_id = $1", [messageId]);
    expect(retried.dispatch_count).toBeGreaterThanOrEqual(2);
    expect(await aiRepliesOf(stack.pool, conversationId)).toHaveLength(1);
  });

  it("treats an empty answer as a failure: the fallback, never a blank message", async () => {
    const question = `Empty? ${marker()}`;
    stack.llm!.script(question, [{ content: "   " }], { always: true });
    const { conversationId, messageId } = await ask(question);

    expect(await finished(messageId)).toMatchObject({ outcome: "fallback", error: "empty reply" });
    expect((await aiRepliesOf(stack.pool, conversationId)).map((r) => r.content)).toEqual([FALLBACK]);
    stack.llm!.clearScript(question);
  });
});
