import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../local/stack.ts";
import { aiRepliesOf, createProject, marker, type MessageRow, messagesOf, waitFor } from "./helpers.ts";

// A website visitor's whole journey on the real supabase-js, through the stand-ins for Auth,
// PostgREST and Realtime, with the real trigger, pg_net worker and function answering.
let stack: Stack;
let projectId: string;
const clients: SupabaseClient[] = [];

beforeAll(async () => {
  stack = await startStack({ auth: { anonymousSignInsPerHour: 1000 } });
  projectId = await createProject(stack.pool, { ai_enabled: true, ai_reply_delay_ms: 0 });
});
afterAll(async () => {
  for (const client of clients) await client.removeAllChannels();
  await stack?.stop();
});

type Row = { id: string; conversation_id: string; sender_id: string; from_customer: boolean; content: string; created_at: string; reply_to: string | null };

/**
 * README.md "The widget", verbatim between the markers; the free names of the snippet are
 * this function's parameters, and it returns what the test needs to go on.
 */
async function readmeWidget(
  SUPABASE_URL: string,
  SUPABASE_PUBLISHABLE_KEY: string,
  PROJECT_ID: string,
  text: string,
  showMessage: (row: Record<string, unknown>) => void,
  showReplyBeingWritten: (event: Record<string, unknown>) => void = () => {},
) {
  // ---- README snippet begins ----
  const supabase = createClient(SUPABASE_URL, SUPABASE_PUBLISHABLE_KEY);
  const { data: { user } } = await supabase.auth.signInAnonymously();
  const { data: conversation } = await supabase
    .from("conversations")
    .insert({ project_id: PROJECT_ID, visitor_id: user!.id })
    .select()
    .single();

  // One private channel per conversation; only its visitor may join (RLS on realtime.messages).
  await supabase.realtime.setAuth(); // join with the visitor's token, not the publishable key
  supabase
    .channel(`conversation:${conversation.id}`, { config: { private: true } })
    // Every new message of the conversation (Broadcast from Database). AI replies have
    // sender_id 'AI_BOT' and reply_to: the visitor message they answer.
    .on("broadcast", { event: "INSERT" }, ({ payload }) => showMessage(payload.record))
    // The AI at work, per visitor message (message_id); a higher seq is newer. The reply row
    // replaces it; one that hears nothing for 15 s is dropped.
    .on("broadcast", { event: "typing" }, ({ payload }) => showReplyBeingWritten(payload)) // {typing}
    .on("broadcast", { event: "preview" }, ({ payload }) => showReplyBeingWritten(payload)) // {text}: all of it so far
    .on("broadcast", { event: "preview_end" }, ({ payload }) => showReplyBeingWritten(payload)) // withdrawn
    .subscribe(async (status) => {
      if (status !== "SUBSCRIBED") return;
      // On each (re)join, the history, oldest first: nothing written while away is missed.
      const { data: history } = await supabase
        .from("messages")
        .select()
        .eq("conversation_id", conversation.id)
        .order("created_at", { ascending: true });
      history!.forEach((row) => showMessage(row)); // showMessage skips ids it has shown
    });

  await supabase.from("messages").insert({
    conversation_id: conversation.id,
    sender_id: user!.id,
    from_customer: true,
    content: text, // 1 to 4,000 characters
  });
  // ---- README snippet ends ----
  clients.push(supabase);
  return { supabase, user: user!, conversationId: conversation.id as string };
}

/** What a widget shows: each message once, in the order it first arrived. */
function chatWindow() {
  const shown = new Map<string, Row>();
  return {
    shown,
    showMessage: (row: Record<string, unknown>) => {
      const message = row as Row; // a row of public.messages, as Realtime and PostgREST send it
      if (!shown.has(message.id)) shown.set(message.id, message);
    },
    replyTo: (text: string) => [...shown.values()].find((r) => r.sender_id === "AI_BOT" && r.content.includes(text)),
  };
}

async function signedInVisitor() {
  const supabase = createClient(stack.gatewayUrl, stack.keys.publishableKey, { auth: { persistSession: false } });
  clients.push(supabase);
  const { data, error } = await supabase.auth.signInAnonymously();
  expect(error).toBeNull();
  return { supabase, userId: data.user!.id };
}

async function startConversation(supabase: SupabaseClient, userId: string): Promise<string> {
  const { data, error } = await supabase.from("conversations").insert({ project_id: projectId, visitor_id: userId }).select().single();
  expect(error).toBeNull();
  return (data as { id: string }).id;
}

async function say(supabase: SupabaseClient, userId: string, conversationId: string, content: string): Promise<void> {
  const { error } = await supabase.from("messages").insert({ conversation_id: conversationId, sender_id: userId, from_customer: true, content });
  expect(error).toBeNull();
}

/** Every INSERT on messages this client's Realtime delivers (optionally filtered), once joined. */
async function listen(supabase: SupabaseClient, filter?: string): Promise<Row[]> {
  const delivered: Row[] = [];
  let joined = false;
  supabase
    .channel(`listen:${marker()}`)
    .on("postgres_changes", { event: "INSERT", schema: "public", table: "messages", ...(filter ? { filter } : {}) }, (payload) =>
      delivered.push(payload.new as Row))
    .subscribe((status) => void (status === "SUBSCRIBED" && (joined = true)));
  await waitFor("the channel to join", async () => joined, { timeoutMs: 15_000 });
  return delivered;
}

const waitForRow = (rows: Row[], what: string, match: (row: Row) => boolean, timeoutMs = 30_000) =>
  waitFor(what, async () => rows.find(match), { timeoutMs });

describe("a visitor using the README's widget code", () => {
  it("signs in anonymously, starts a conversation, sends, and sees the AI reply arrive", async () => {
    const window = chatWindow();
    const question = `Are you open on Sunday? ${marker()}`;
    const beingWritten: Record<string, unknown>[] = [];
    const { user, conversationId } = await readmeWidget(stack.gatewayUrl, stack.keys.publishableKey, projectId, question, window.showMessage, (event) => beingWritten.push(event));

    const reply = await waitFor("the AI reply in the chat window", async () => window.replyTo(question));
    expect(reply).toMatchObject({ conversation_id: conversationId, from_customer: false });
    const visitorMessage = [...window.shown.values()].find((r) => r.from_customer)!;
    expect(reply).toMatchObject({ reply_to: visitorMessage.id });
    expect(beingWritten[0]).toMatchObject({ message_id: visitorMessage.id, typing: true });
    expect(beingWritten.filter((e) => "text" in e).at(-1)).toMatchObject({ message_id: visitorMessage.id, text: reply!.content });
    const shown = [...window.shown.values()];
    expect(shown.filter((r) => r.from_customer)).toMatchObject([{ sender_id: user.id, content: question }]);
    expect((await messagesOf(stack.pool, conversationId)).map((m) => m.id).sort()).toEqual(shown.map((r) => r.id).sort());
  });

  it("loads the history oldest first", async () => {
    const { supabase, userId } = await signedInVisitor();
    const conversationId = await startConversation(supabase, userId);
    const questions = [`first ${marker()}`, `second ${marker()}`, `third ${marker()}`];
    for (const [i, question] of questions.entries()) {
      await say(supabase, userId, conversationId, question);
      await waitFor(`AI reply ${i + 1}`, async () => (await aiRepliesOf(stack.pool, conversationId)).length === i + 1);
    }

    const { data: history, error } = await supabase
      .from("messages").select().eq("conversation_id", conversationId).order("created_at", { ascending: true });
    expect(error).toBeNull();
    const rows = history as Row[];
    expect(rows.map((r) => (r.from_customer ? r.content : `AI: ${r.content.includes(questions[0]!) ? 1 : r.content.includes(questions[1]!) ? 2 : 3}`)))
      .toEqual([questions[0], "AI: 1", questions[1], "AI: 2", questions[2], "AI: 3"]);
    const times = rows.map((r) => new Date(r.created_at).getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });
});

describe("Realtime delivery to the visitor", () => {
  it("delivers the visitor's message and the AI reply exactly once each", async () => {
    const { supabase, userId } = await signedInVisitor();
    const conversationId = await startConversation(supabase, userId);
    const delivered = await listen(supabase, `conversation_id=eq.${conversationId}`);

    const question = `Do you bake rye bread? ${marker()}`;
    await say(supabase, userId, conversationId, question);
    const reply = await waitForRow(delivered, "the AI reply", (r) => r.sender_id === "AI_BOT" && r.content.includes(question));
    // A second exchange on the same socket: a duplicate of the first would have come before it.
    const barrier = `And cakes? ${marker()}`;
    await say(supabase, userId, conversationId, barrier);
    await waitForRow(delivered, "the second AI reply", (r) => r.sender_id === "AI_BOT" && r.content.includes(barrier));

    expect(delivered.filter((r) => r.id === reply.id)).toHaveLength(1);
    expect(delivered.filter((r) => r.content === question)).toHaveLength(1);
    expect(delivered.map((r) => r.conversation_id)).toEqual(Array(4).fill(conversationId));
  });

  it("delivers nothing of it to another visitor, subscribed to its conversation id or to the whole table", async () => {
    const a = await signedInVisitor();
    const aConversation = await startConversation(a.supabase, a.userId);
    const aDelivered = await listen(a.supabase, `conversation_id=eq.${aConversation}`);
    const b = await signedInVisitor();
    const bConversation = await startConversation(b.supabase, b.userId);
    const bOnA = await listen(b.supabase, `conversation_id=eq.${aConversation}`);
    const bOnAll = await listen(b.supabase);

    const secret = `My order number is 42 ${marker()}`;
    await say(a.supabase, a.userId, aConversation, secret);
    await waitForRow(aDelivered, "A's AI reply", (r) => r.sender_id === "AI_BOT" && r.content.includes(secret));
    // B's own exchange afterwards proves B's whole-table subscription delivers, and that A's rows had their chance.
    const own = `B here ${marker()}`;
    await say(b.supabase, b.userId, bConversation, own);
    await waitForRow(bOnAll, "B's own AI reply", (r) => r.sender_id === "AI_BOT" && r.content.includes(own));

    expect(bOnA).toEqual([]);
    expect(bOnAll.map((r) => r.conversation_id)).toEqual([bConversation, bConversation]);
    expect(JSON.stringify(bOnAll)).not.toContain(secret);
  });

  it("keeps delivering after the visitor's token is refreshed", async () => {
    const { supabase, userId } = await signedInVisitor();
    const conversationId = await startConversation(supabase, userId);
    const delivered = await listen(supabase, `conversation_id=eq.${conversationId}`);
    const before = (await supabase.auth.getSession()).data.session!;

    const { data, error } = await supabase.auth.refreshSession();
    expect(error).toBeNull();
    // A new session from the refresh grant (the access token itself may be byte-identical within the same second).
    expect(data.session!.refresh_token).not.toBe(before.refresh_token);
    expect(data.session!.user.id).toBe(userId);

    const question = `After refresh ${marker()}`;
    await say(supabase, userId, conversationId, question);
    await waitForRow(delivered, "the AI reply after the refresh", (r) => r.sender_id === "AI_BOT" && r.content.includes(question));
  });

  it("rejoins after Realtime restarts, and the reply written while it was down still arrives", { timeout: 120_000 }, async () => {
    const window = chatWindow();
    const first = `Hello ${marker()}`;
    const { supabase, user, conversationId } = await readmeWidget(stack.gatewayUrl, stack.keys.publishableKey, projectId, first, window.showMessage);
    await waitFor("the first AI reply", async () => window.replyTo(first));

    await stack.realtime.stop();
    try {
      const whileDown = `Anyone there? ${marker()}`;
      await say(supabase, user.id, conversationId, whileDown);
      await waitFor("the reply written while Realtime is down", async () =>
        (await aiRepliesOf(stack.pool, conversationId)).some((r: MessageRow) => r.content.includes(whileDown)));
      expect(window.replyTo(whileDown)).toBeUndefined();
      await stack.realtime.start();
      // supabase-js reconnects with backoff (up to 10 s a try); the rejoin's history brings the missed reply.
      await waitFor("the missed reply after the rejoin", async () => window.replyTo(whileDown), { timeoutMs: 60_000 });
    } finally {
      await stack.realtime.start();
    }

    const afterwards = `Back again ${marker()}`;
    await say(supabase, user.id, conversationId, afterwards);
    await waitFor("a reply over the rejoined channel", async () => window.replyTo(afterwards));
  });
});
