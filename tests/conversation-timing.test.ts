// How the AI paces itself in a conversation, through the whole pipeline (trigger, pg_net worker,
// the function on Deno, the stand-in LLM): a burst waits out the project's reply delay and gets
// one answer; a message after an answer gets its own; and where the AI must stay silent it stays
// silent past the retry sweeper's passes, which is where a late wrong answer would come from.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../local/stack.ts";
import { agentSays, aiRepliesOf, createProject, marker, type ProjectSettings, startConversation, visitorSays, waitFor } from "./helpers.ts";
import { sweepConversation } from "./scheduled.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

async function talk(settings: ProjectSettings = {}) {
  const projectId = await createProject(stack.pool, settings);
  const { visitorId, conversationId } = await startConversation(stack.pool, projectId);
  return { projectId, visitorId, conversationId, say: (content: string) => visitorSays(stack.pool, visitorId, conversationId, content) };
}
const repliesTo = (conversationId: string, count: number) =>
  waitFor(`${count} AI replies`, async () => {
    const replies = await aiRepliesOf(stack.pool, conversationId);
    return replies.length >= count && replies;
  });
/** The function has the message: its webhook was answered 202. */
const delivered = (messageId: string) =>
  waitFor("the webhook's 202", async () => {
    const { rows } = await stack.pool.query(
      "select r.status_code from public.ai_reply_jobs j join net._http_response r on r.id = j.last_request_id where j.message_id = $1",
      [messageId],
    );
    return rows[0]?.status_code === 202;
  });
const openJobs = async (conversationId: string) =>
  (await stack.pool.query("select count(*)::int as n from public.ai_reply_jobs where conversation_id = $1 and outcome is null", [conversationId])).rows[0].n as number;

/**
 * A burst as a person types it: each message once the function already holds the previous one
 * and `gapMs` after it. Far longer than the pipeline takes to answer with no delay (a few tens
 * of ms here), so only the reply delay can make the burst get one answer.
 */
async function burst(say: (content: string) => Promise<string>, lines: string[], gapMs: number): Promise<string[]> {
  const ids: string[] = [];
  for (const line of lines) {
    if (ids.length > 0) {
      const previousAt = Date.now();
      await delivered(ids.at(-1)!);
      await waitFor(`${gapMs} ms after the previous message`, async () => Date.now() - previousAt >= gapMs, { intervalMs: 20 });
    }
    ids.push(await say(line));
  }
  return ids;
}

/** Proves the pipeline had its chance: a message sent now elsewhere is answered, and nothing is left queued. */
async function barrier(): Promise<void> {
  const { conversationId, say } = await talk();
  await say(`barrier ${marker()}`);
  await repliesTo(conversationId, 1);
  await waitFor("pg_net's queue to drain", async () => (await stack.pool.query("select count(*)::int as n from net.http_request_queue")).rows[0].n === 0);
}

describe("a burst of messages", () => {
  it("spaced 700 ms apart, within the project's 3 s reply delay: one answer, to the last, reading all three", async () => {
    const { conversationId, say } = await talk({ ai_reply_delay_ms: 3000 });
    const text = marker();
    const lines = [`Hi ${text}`, `I ordered a cake ${text}`, `when does it arrive? ${text}`];
    const ids = await burst(say, lines, 700);
    const [reply] = await repliesTo(conversationId, 1);
    expect(reply!.reply_to).toBe(ids[2]);
    await waitFor("every job closed", async () => (await openJobs(conversationId)) === 0);
    await sweepConversation(stack.pool, conversationId);
    await barrier();
    expect((await aiRepliesOf(stack.pool, conversationId)).map((r) => r.reply_to)).toEqual([ids[2]]);
    const requests = stack.llm!.requestsMentioning(text);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.body.messages.slice(1).map((m) => m.content)).toEqual(lines);
  });

  it("spaced the same with no reply delay: each message is answered on its own (the spacing alone coalesces nothing)", async () => {
    const { conversationId, say } = await talk({ ai_reply_delay_ms: 0 });
    const text = marker();
    const ids = await burst(say, [`one ${text}`, `two ${text}`, `three ${text}`], 700);
    await waitFor("every job closed", async () => (await openJobs(conversationId)) === 0);
    // With no delay the first is answered before the second is sent; on a very slow machine a
    // later one may still coalesce, but never the first.
    const replies = await repliesTo(conversationId, 2);
    expect(replies.map((r) => r.reply_to)).toContain(ids[0]);
  });
});

describe("two visitor messages with an AI reply between them", () => {
  it("the second gets its own reply, with the first and its answer in the history; neither is answered twice", async () => {
    const { conversationId, say } = await talk({ ai_reply_delay_ms: 600 });
    const text = marker();
    const first = await say(`Do you bake sourdough? ${text}`);
    const [firstReply] = await repliesTo(conversationId, 1);
    expect(firstReply!.reply_to).toBe(first);
    const second = await say(`And rye? ${text}`);
    const replies = await repliesTo(conversationId, 2);
    expect(replies.map((r) => r.reply_to)).toEqual([first, second]);

    const [, secondRequest] = stack.llm!.requestsMentioning(text);
    expect(secondRequest!.body.messages.slice(1)).toEqual([
      { role: "user", content: `Do you bake sourdough? ${text}` },
      { role: "assistant", content: firstReply!.content },
      { role: "user", content: `And rye? ${text}` },
    ]);
    // The sweeper's passes and any late re-delivery change nothing.
    await sweepConversation(stack.pool, conversationId, 2);
    await barrier();
    expect((await aiRepliesOf(stack.pool, conversationId)).map((r) => r.reply_to)).toEqual([first, second]);
    expect(stack.llm!.requestsMentioning(text)).toHaveLength(2);
  });
});

describe("silence that lasts past the retry sweeper", () => {
  async function expectSilent(conversationId: string, text: string, repliesBefore = 0) {
    await sweepConversation(stack.pool, conversationId, 2);
    await barrier();
    expect(await aiRepliesOf(stack.pool, conversationId)).toHaveLength(repliesBefore);
    expect(stack.llm!.requestsMentioning(text)).toEqual([]);
  }

  it("AI off", async () => {
    const { conversationId, say } = await talk({ ai_enabled: false });
    const text = marker();
    await say(`anyone? ${text}`);
    await expectSilent(conversationId, text);
  });

  it("AI switched off while the first try waits out the reply delay", async () => {
    const { projectId, conversationId, say } = await talk({ ai_reply_delay_ms: 2000 });
    const text = marker();
    const messageId = await say(`anyone? ${text}`);
    await delivered(messageId);
    await stack.pool.query("update public.projects set ai_enabled = false where id = $1", [projectId]);
    await waitFor("the job to close", async () => (await openJobs(conversationId)) === 0, { timeoutMs: 30_000 });
    await expectSilent(conversationId, text);
  });

  it("handed off to an agent, and an agent writing while the first try waits", async () => {
    const taken = await talk();
    await agentSays(stack.pool, taken.conversationId, "Ana here");
    const text = marker();
    await taken.say(`thanks ${text}`);
    const racing = await talk({ ai_reply_delay_ms: 2000 });
    const messageId = await racing.say(`hello ${text}`);
    await delivered(messageId);
    await agentSays(stack.pool, racing.conversationId, "Ana here too");
    await waitFor("the job to close", async () => (await openJobs(racing.conversationId)) === 0, { timeoutMs: 30_000 });
    await expectSilent(taken.conversationId, text);
    await expectSilent(racing.conversationId, text);
  });

  it("awaiting a person after the reply cap", async () => {
    const { conversationId, say } = await talk({ ai_max_replies_per_conversation: 1 });
    const text = marker();
    await say(`one ${marker()}`);
    await repliesTo(conversationId, 1);
    await say(`two ${marker()}`);
    await repliesTo(conversationId, 2); // the hand-over text
    await say(`three ${text}`);
    await expectSilent(conversationId, text, 2);
  });

  it("an agent online, with ai_mode when_no_agent_online", async () => {
    const { projectId, conversationId, say } = await talk();
    const { rows: [agent] } = await stack.pool.query("insert into auth.users (is_anonymous, email) values (false, gen_random_uuid() || '@example.com') returning id");
    await stack.pool.query("insert into public.project_members (project_id, user_id, last_seen_at) values ($1, $2, now())", [projectId, agent.id]);
    await stack.pool.query("update public.projects set ai_mode = 'when_no_agent_online' where id = $1", [projectId]);
    const text = marker();
    await say(`a person please ${text}`);
    await expectSilent(conversationId, text);
  });
});
