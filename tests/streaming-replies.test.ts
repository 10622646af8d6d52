import { createClient, type RealtimeChannel, type SupabaseClient } from "@supabase/supabase-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signJwt } from "../local/api-keys.ts";
import { startStack, type Stack } from "../local/stack.ts";
import { createStore, type ReplyEvent } from "../widget/src/state.ts";
import { aiRepliesOf, createProject, marker, type ProjectSettings, startConversation, visitorSays, waitFor } from "./helpers.ts";

// Replies that appear as they are written: the AI's typing indicator and growing text on the
// conversation's private Broadcast topic, heard by a supabase-js subscriber as the widget
// subscribes, with the reply rows on the same topic (Broadcast from Database).
let stack: Stack;
const clients: SupabaseClient[] = [];
beforeAll(async () => {
  stack = await startStack({
    // Slower than Groq, so that a reply takes about a second and a half to write.
    llmPace: { firstTokenMs: 200, tokensPerSecond: 100 },
    functionEnv: { GROQ_TIMEOUT_MS: "1500", GROQ_MAX_RETRIES: "0", AI_RESPONDER_LLM_DEADLINE_MS: "4000" },
  });
  // The sweeper every second (grace 1 s), so that a retry after a crash plays out quickly.
  await stack.pool.query(
    "select cron.schedule('retry-unanswered-ai-replies', '1 seconds', $$select private.retry_unanswered_ai_replies(grace => interval '1 second', max_dispatches => 8)$$)",
  );
});
afterAll(async () => {
  for (const client of clients) await client.removeAllChannels();
  await stack?.stop();
});

const LONG_REPLY = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ") + ".";

type Heard = { event: string; payload: Record<string, unknown> };
type Listener = { heard: Heard[]; statuses: string[]; errors: string[]; channel: RealtimeChannel };

/** A widget's supabase-js client for a visitor (or the publishable key alone), token handed to Realtime first. */
async function widgetClient(visitorId: string | null): Promise<SupabaseClient> {
  const token = visitorId === null ? null : await signJwt(
    { sub: visitorId, role: "authenticated", aud: "authenticated", is_anonymous: true, exp: Math.floor(Date.now() / 1000) + 3600 },
    stack.keys.jwtSecret,
  );
  const client = createClient(stack.gatewayUrl, stack.keys.publishableKey, { accessToken: async () => token });
  clients.push(client);
  await client.realtime.setAuth();
  return client;
}

/** Every broadcast on the topic, in arrival order, as the widget subscribes. */
function listen(client: SupabaseClient, conversationId: string, isPrivate = true): Listener {
  const listener: Listener = { heard: [], statuses: [], errors: [], channel: client.channel(`conversation:${conversationId}`, { config: { private: isPrivate } }) };
  listener.channel
    .on("broadcast", { event: "*" }, (message) => listener.heard.push({ event: message.event, payload: message.payload }))
    .subscribe((status, error) => {
      listener.statuses.push(status);
      if (error) listener.errors.push(error.message);
    });
  return listener;
}

async function subscribedVisitor(settings: ProjectSettings = {}) {
  const projectId = await createProject(stack.pool, settings);
  const { visitorId, conversationId } = await startConversation(stack.pool, projectId);
  const widget = listen(await widgetClient(visitorId), conversationId);
  await waitFor("the widget to join its conversation's topic", async () => widget.statuses.includes("SUBSCRIBED"));
  return { projectId, visitorId, conversationId, widget };
}

const events = (listener: Listener, name: string) => listener.heard.filter((h) => h.event === name).map((h) => h.payload);
const replyRow = (listener: Listener) =>
  events(listener, "INSERT").map((p) => p.record as Record<string, unknown>).find((r) => r.sender_id === "AI_BOT");

describe("a streamed reply", () => {
  it("shows typing, then the text growing in order, then the reply row whose text is the last preview's", async () => {
    const { visitorId, conversationId, widget } = await subscribedVisitor();
    const question = `streamed ${marker()}`;
    stack.llm!.script(question, [{ content: LONG_REPLY }]);
    const messageId = await visitorSays(stack.pool, visitorId, conversationId, question);
    const row = await waitFor("the reply row on the topic", async () => replyRow(widget));

    const replyEvents = widget.heard.filter((h) => ["typing", "preview", "preview_end"].includes(h.event));
    expect(replyEvents[0]).toEqual({ event: "typing", payload: { message_id: messageId, seq: expect.any(Number), typing: true } });
    const previews = events(widget, "preview") as { message_id: string; seq: number; text: string }[];
    expect(previews.length).toBeGreaterThanOrEqual(3);
    expect(previews.length).toBeLessThan(40); // batched, not one event per word
    const seqs = replyEvents.map((e) => e.payload.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    for (const [i, preview] of previews.entries()) {
      expect(preview.message_id).toBe(messageId);
      if (i > 0) expect(preview.text.startsWith(previews[i - 1]!.text)).toBe(true);
    }
    expect(previews.at(-1)!.text).toBe(LONG_REPLY);
    expect(row).toMatchObject({ content: LONG_REPLY, reply_to: messageId, conversation_id: conversationId });
    expect(events(widget, "preview_end")).toEqual([]);
    // The visitor's own message came on the same topic, once.
    expect(events(widget, "INSERT").filter((p) => (p.record as { id: string }).id === messageId)).toHaveLength(1);
    expect(await aiRepliesOf(stack.pool, conversationId)).toHaveLength(1);
  });

  it("sends a project that turns streaming off the typing indicator and the row, and no text before it", async () => {
    const { visitorId, conversationId, widget } = await subscribedVisitor({ ai_stream_replies: false } as ProjectSettings);
    const question = `not streamed ${marker()}`;
    stack.llm!.script(question, [{ content: LONG_REPLY }]);
    const messageId = await visitorSays(stack.pool, visitorId, conversationId, question);
    expect(await waitFor("the reply row", async () => replyRow(widget))).toMatchObject({ content: LONG_REPLY, reply_to: messageId });
    expect(events(widget, "typing")).toEqual([{ message_id: messageId, seq: expect.any(Number), typing: true }]);
    expect(events(widget, "preview")).toEqual([]);
    expect(stack.llm!.requestsMentioning(question)[0]!.body.stream).toBeUndefined();
  });
});

describe("who hears a conversation's topic", () => {
  it("refuses it to another visitor and to a client without a session; the public topic of that name hears nothing", async () => {
    const { visitorId, conversationId, widget } = await subscribedVisitor();
    const { visitorId: otherVisitor } = await startConversation(stack.pool, await createProject(stack.pool));
    const intruder = listen(await widgetClient(otherVisitor), conversationId);
    const anonymous = listen(await widgetClient(null), conversationId);
    const eavesdropper = listen(await widgetClient(otherVisitor), conversationId, false);
    await waitFor("both refused", async () => intruder.statuses.includes("CHANNEL_ERROR") && anonymous.statuses.includes("CHANNEL_ERROR"));
    const refusal = `Unauthorized: You do not have permissions to read from this Channel topic: conversation:${conversationId}`;
    expect(intruder.errors[0]).toBe(refusal);
    expect(anonymous.errors[0]).toBe(refusal);
    await waitFor("the public channel joined", async () => eavesdropper.statuses.includes("SUBSCRIBED"));

    const question = `private ${marker()}`;
    stack.llm!.script(question, [{ content: LONG_REPLY }]);
    await visitorSays(stack.pool, visitorId, conversationId, question);
    await waitFor("the reply row at the visitor", async () => replyRow(widget));
    expect(events(widget, "preview").length).toBeGreaterThan(0);
    for (const other of [intruder, anonymous, eavesdropper]) expect(other.heard).toEqual([]);
  });
});

describe("failures while the reply is written", () => {
  it("withdraws the preview and posts the fallback text when the LLM fails mid-stream", async () => {
    const fallback = "Sorry, we will get back to you shortly.";
    const { visitorId, conversationId, widget } = await subscribedVisitor({ ai_fallback_message: fallback });
    const question = `fails midway ${marker()}`;
    stack.llm!.script(question, [{ content: LONG_REPLY, streamErrorAfterWords: 20 }]);
    const messageId = await visitorSays(stack.pool, visitorId, conversationId, question);
    expect(await waitFor("the fallback row", async () => replyRow(widget))).toMatchObject({ content: fallback, reply_to: messageId });

    const names = widget.heard.filter((h) => h.event !== "INSERT").map((h) => h.event);
    expect(names[0]).toBe("typing");
    expect(names.slice(-2)).toEqual(["preview_end", "typing"]);
    expect(names.filter((n) => n === "preview").length).toBeGreaterThan(0);
    expect(events(widget, "preview_end")).toEqual([{ message_id: messageId, seq: expect.any(Number), reason: "failed" }]);
    expect(events(widget, "typing").at(-1)).toMatchObject({ typing: false });
    const { rows: [job] } = await stack.pool.query("select outcome, error from public.ai_reply_jobs where message_id = $1", [messageId]);
    expect(job).toEqual({ outcome: "fallback", error: "stream error" });
  });

  it("answers once when the function dies mid-stream: the sweeper's retry replaces the dead preview, and the widget shows one answer", async () => {
    const { visitorId, conversationId, widget } = await subscribedVisitor();
    const question = `killed midway ${marker()}`;
    stack.llm!.script(question, [{ content: LONG_REPLY }], { always: true });
    const messageId = await visitorSays(stack.pool, visitorId, conversationId, question);
    await waitFor("some text on the screen", async () => events(widget, "preview").length >= 2);
    await stack.edgeFunction.kill();
    const diedAt = widget.heard.length;
    await stack.edgeFunction.start();
    const row = await waitFor("the retry's reply row", async () => replyRow(widget), { timeoutMs: 30_000 });
    stack.llm!.clearScript(question);

    expect(row).toMatchObject({ content: LONG_REPLY, reply_to: messageId });
    expect(await aiRepliesOf(stack.pool, conversationId)).toHaveLength(1);
    const before = widget.heard.slice(0, diedAt).filter((h) => h.event === "preview").map((h) => h.payload.seq as number);
    const after = widget.heard.slice(diedAt).filter((h) => h.event === "typing").map((h) => h.payload.seq as number);
    expect(after.length).toBeGreaterThan(0);
    expect(Math.min(...after)).toBeGreaterThan(Math.max(...before));

    // The widget's own state, fed everything the topic carried: one answer, no preview left.
    const store = createStore();
    for (const { event, payload } of widget.heard) {
      if (event === "INSERT") store.receive([payload.record as never]);
      else store.replyEvent({ event, payload } as ReplyEvent);
    }
    expect(store.get().messages.filter((m) => m.author === "ai").map((m) => m.content)).toEqual([LONG_REPLY]);
    expect(store.get().previews).toEqual([]);
  }, 60_000);
});
