// The AI hands over to a person with its one tool, through the whole pipeline: the model's
// call (whole or streamed, well-formed or not) posts the project's hand-over text, marks the
// conversation, silences the AI there until a hand-back, and lists it for the agents.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../local/stack.ts";
import { withClaims } from "../local/visitor.ts";
import { agentSays, aiRepliesOf, createProject, createVisitor, marker, messagesOf, startConversation, visitorSays, waitFor } from "./helpers.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

const HANDOVER = "One of our team will reply here shortly.";

async function conversation(streamReplies = true) {
  const projectId = await createProject(stack.pool, { ai_handover_message: HANDOVER });
  await stack.pool.query("update public.projects set ai_stream_replies = $2 where id = $1", [projectId, streamReplies]);
  return { projectId, ...(await startConversation(stack.pool, projectId)) };
}

const stateOf = async (conversationId: string) =>
  (await stack.pool.query("select awaiting_human_since is not null as waiting, awaiting_human_reason as reason, handed_off_to from public.conversations where id = $1", [conversationId])).rows[0];
const outcomeOf = (messageId: string) =>
  waitFor(`the outcome of ${messageId}`, async () =>
    (await stack.pool.query("select outcome from public.ai_reply_jobs where message_id = $1", [messageId])).rows[0]?.outcome);

/** A message in another conversation is answered: the pipeline has had its chance. */
async function pipelineBarrier() {
  const other = await conversation();
  await visitorSays(stack.pool, other.visitorId, other.conversationId, `barrier ${marker()}`);
  await waitFor("the barrier's reply", async () => (await aiRepliesOf(stack.pool, other.conversationId)).length === 1);
}

describe.each([["streamed", true], ["whole", false]])("a hand_over_to_human call (%s)", (_name, stream) => {
  it("posts the hand-over text as the reply, marks the conversation with the reason, and keeps the AI silent until it is handed back", async () => {
    const { visitorId, conversationId } = await conversation(stream);
    const text = marker();
    stack.llm!.script(text, [{ toolCall: { name: "hand_over_to_human", arguments: JSON.stringify({ reason: "visitor asked for a person" }) } }]);
    const messageId = await visitorSays(stack.pool, visitorId, conversationId, `I want to talk to a person ${text}`);

    const [reply] = await waitFor("the hand-over text", async () => { const r = await aiRepliesOf(stack.pool, conversationId); return r.length > 0 && r; });
    expect(reply).toMatchObject({ content: HANDOVER, reply_to: messageId });
    expect(await outcomeOf(messageId)).toBe("handed_over");
    expect(await stateOf(conversationId)).toEqual({ waiting: true, reason: "visitor asked for a person", handed_off_to: null });
    expect(stack.llm!.requestsMentioning(text)[0]!.body.stream).toBe(stream ? true : undefined);

    const ignored = `Hello? ${marker()}`;
    await visitorSays(stack.pool, visitorId, conversationId, ignored);
    await pipelineBarrier();
    expect(stack.llm!.requestsMentioning(ignored)).toEqual([]);
    expect(await aiRepliesOf(stack.pool, conversationId)).toHaveLength(1);

    // Handed back (as the README tells admins: the wait set back to null): the AI answers again.
    await stack.pool.query("update public.conversations set awaiting_human_since = null, awaiting_human_reason = null where id = $1", [conversationId]);
    const back = `Anyone? ${marker()}`;
    await visitorSays(stack.pool, visitorId, conversationId, back);
    await waitFor("the AI's answer after the hand-back", async () => (await aiRepliesOf(stack.pool, conversationId)).some((r) => r.content.includes(back)));
  });
});

describe("other answers", () => {
  it("treats a malformed call (unreadable arguments, another name, or Groq's 400 tool_use_failed) as a hand-over", async () => {
    for (const behaviour of [
      { toolCall: { name: "hand_over_to_human", arguments: "{reason: oops" } },
      { toolCall: { name: "call_the_manager", arguments: "{}" } },
      { toolUseFailed: "<function=hand_over_to_human{\"reason\": 1}>" },
    ]) {
      const { visitorId, conversationId } = await conversation();
      const text = marker();
      stack.llm!.script(text, [behaviour]);
      const messageId = await visitorSays(stack.pool, visitorId, conversationId, `Get me your boss ${text}`);
      expect(await outcomeOf(messageId)).toBe("handed_over");
      expect((await aiRepliesOf(stack.pool, conversationId)).map((r) => r.content)).toEqual([HANDOVER]);
      expect(await stateOf(conversationId)).toMatchObject({ waiting: true, reason: expect.stringMatching(/malformed/) });
    }
  });

  it("posts text as a normal reply when the model answers with text", async () => {
    const { visitorId, conversationId } = await conversation();
    const text = marker();
    const messageId = await visitorSays(stack.pool, visitorId, conversationId, `Are you open today? ${text}`);
    expect(await outcomeOf(messageId)).toBe("answered");
    expect((await aiRepliesOf(stack.pool, conversationId))[0]!.content).toContain(text);
    expect(await stateOf(conversationId)).toMatchObject({ waiting: false });
  });

  it("an agent's message ends the wait (the agent has the conversation), and a hand-back gives it to the AI again", async () => {
    const { projectId, visitorId, conversationId } = await conversation();
    const text = marker();
    stack.llm!.script(text, [{ toolCall: { name: "hand_over_to_human", arguments: JSON.stringify({ reason: "upset visitor" }) } }]);
    const messageId = await visitorSays(stack.pool, visitorId, conversationId, `This is ridiculous ${text}`);
    expect(await outcomeOf(messageId)).toBe("handed_over");

    const { rows: queue } = await stack.pool.query("select conversation_id, awaiting_human_reason from public.conversations_awaiting_human where conversation_id = $1", [conversationId]);
    expect(queue).toEqual([]); // postgres is a member of no project: the view is the agents'
    const agentId = await createVisitor(stack.pool, { anonymous: false });
    await stack.pool.query("insert into public.project_members (project_id, user_id) values ($1, $2)", [projectId, agentId]);
    const asAgent = (sub: string, anonymous: boolean) => withClaims(stack.pool, { role: "authenticated", sub, is_anonymous: anonymous }, async (client) =>
      (await client.query("select conversation_id, awaiting_human_reason from public.conversations_awaiting_human")).rows);
    expect(await asAgent(agentId, false)).toEqual([{ conversation_id: conversationId, awaiting_human_reason: "upset visitor" }]);
    expect(await asAgent(visitorId, true)).toEqual([]);
    await agentSays(stack.pool, conversationId, "Ana here, sorry about that.", "agent-ana");
    expect(await stateOf(conversationId)).toEqual({ waiting: false, reason: null, handed_off_to: "agent-ana" });

    await stack.pool.query("update public.conversations set handed_off_to = null where id = $1", [conversationId]);
    const back = `Thanks, one more question ${marker()}`;
    await visitorSays(stack.pool, visitorId, conversationId, back);
    await waitFor("the AI's answer after the hand-back", async () => (await messagesOf(stack.pool, conversationId)).some((m) => m.sender_id === "AI_BOT" && m.content.includes(back)));
  });
});
