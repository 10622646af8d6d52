import { createClient, type RealtimeChannel, type SupabaseClient } from "@supabase/supabase-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signJwt } from "../local/api-keys.ts";
import { startStack, type Stack } from "../local/stack.ts";
import { agentSays, createProject, marker, startConversation, visitorSays, waitFor } from "./helpers.ts";

// The Realtime stand-in driven by the real supabase-js: what a widget subscribed to its
// conversation sees, and what other visitors must not see.
let stack: Stack;
const clients: SupabaseClient[] = [];
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  for (const client of clients) await client.removeAllChannels();
  await stack?.stop();
});

const visitorToken = (visitorId: string, expiresInSeconds = 3600) =>
  signJwt({ sub: visitorId, role: "authenticated", aud: "authenticated", is_anonymous: true, exp: Math.floor(Date.now() / 1000) + expiresInSeconds }, stack.keys.jwtSecret);

/**
 * A widget's client; its token can be swapped, as a session refresh would. The token is handed
 * to Realtime before any channel exists, as a signed-in widget's is (with `accessToken` alone,
 * realtime-js may join before the callback resolves, and then never send the token).
 */
async function widgetClient(token: string | null, apiKey = stack.keys.publishableKey) {
  const session = { token };
  const client = createClient(stack.gatewayUrl, apiKey, { accessToken: async () => session.token });
  clients.push(client);
  await client.realtime.setAuth();
  return { client, session };
}

type Received = { events: Record<string, unknown>[]; statuses: string[]; system: Record<string, unknown>[]; errors: string[]; channel: RealtimeChannel };

function listen(client: SupabaseClient, topic: string, filter: { table?: string; filter?: string } | null, config = {}): Received {
  const received: Received = { events: [], statuses: [], system: [], errors: [], channel: client.channel(topic, { config }) };
  if (filter) {
    received.channel.on("postgres_changes", { event: "INSERT", schema: "public", table: filter.table ?? "messages", ...(filter.filter ? { filter: filter.filter } : {}) }, (payload) => received.events.push(payload as unknown as Record<string, unknown>));
  }
  received.channel.on("system", {}, (payload) => received.system.push(payload));
  received.channel.subscribe((status, error) => {
    received.statuses.push(status);
    if (error) received.errors.push(error.message);
  });
  return received;
}

/**
 * Joined, and (unless "none") postgres_changes answered. realtime-js may join before its
 * accessToken callback resolves, i.e. as anon, then send the token: the server subscribes again.
 */
async function subscribed(received: Received, postgres: "ok" | "error" | "none" = "ok") {
  await waitFor("SUBSCRIBED", async () => received.statuses.includes("SUBSCRIBED"));
  if (postgres !== "none") await waitFor(`postgres_changes ${postgres}`, async () => received.system.some((s) => s.extension === "postgres_changes" && s.status === postgres));
}

async function newConversation() {
  const projectId = await createProject(stack.pool, { ai_enabled: true });
  return { projectId, ...(await startConversation(stack.pool, projectId)) };
}

/** A later commit delivered to its own subscriber: every earlier commit has been fanned out. */
async function changeFeedBarrier() {
  const { visitorId, conversationId } = await newConversation();
  const { client } = await widgetClient(await visitorToken(visitorId));
  const observer = listen(client, `barrier:${conversationId}`, { filter: `conversation_id=eq.${conversationId}` });
  await subscribed(observer);
  await agentSays(stack.pool, conversationId, `barrier ${marker()}`);
  await waitFor("the barrier message", async () => observer.events.length > 0);
  await client.removeChannel(observer.channel);
}

const contents = (received: Received) => received.events.map((e) => (e.new as { content: string }).content);

describe("postgres_changes for the widget", () => {
  it("delivers the visitor's own message and the AI reply to the conversation's subscriber, exactly once, as Realtime formats them", async () => {
    const { visitorId, conversationId } = await newConversation();
    const { client } = await widgetClient(await visitorToken(visitorId));
    const widget = listen(client, `conversation:${conversationId}`, { filter: `conversation_id=eq.${conversationId}` });
    await subscribed(widget);
    expect(widget.system.at(-1)).toMatchObject({ extension: "postgres_changes", status: "ok", message: "Subscribed to PostgreSQL" });

    const question = `Are you open on Sunday? ${marker()}`;
    await visitorSays(stack.pool, visitorId, conversationId, question);
    await waitFor("the AI reply", async () => widget.events.some((e) => (e.new as { sender_id: string }).sender_id === "AI_BOT"));
    await changeFeedBarrier();

    expect(widget.events).toHaveLength(2);
    const [mine, reply] = widget.events as { new: Record<string, unknown>; commit_timestamp: string; eventType: string; errors: unknown }[];
    expect(mine!.new).toMatchObject({ conversation_id: conversationId, sender_id: visitorId, from_customer: true, content: question, reply_to: null });
    expect(reply!.new).toMatchObject({ sender_id: "AI_BOT", from_customer: false, reply_to: mine!.new.id });
    expect(reply!.eventType).toBe("INSERT");
    expect(reply!.errors).toBeNull();
    expect(reply!.commit_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // to_jsonb(timestamptz) in a UTC session, as realtime.cast produces it.
    expect(reply!.new.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$/);
  });

  it("gives another visitor nothing of a conversation that is not theirs, by its id or by the whole table", async () => {
    const { visitorId, conversationId } = await newConversation();
    const other = await newConversation();
    const { client } = await widgetClient(await visitorToken(other.visitorId));
    const byId = listen(client, `snoop:${conversationId}`, { filter: `conversation_id=eq.${conversationId}` });
    const wholeTable = listen(client, `snoop-all:${conversationId}`, {});
    await subscribed(byId);
    await subscribed(wholeTable);

    await visitorSays(stack.pool, visitorId, conversationId, `private question ${marker()}`);
    await waitFor("the AI reply in the database", async () => (await stack.pool.query("select 1 from public.messages where conversation_id = $1 and sender_id = 'AI_BOT'", [conversationId])).rowCount);
    await changeFeedBarrier();
    expect(byId.events).toEqual([]);
    expect(wholeTable.events.filter((e) => (e.new as { conversation_id: string }).conversation_id === conversationId)).toEqual([]);
  });

  it("answers a subscription to a table outside the supabase_realtime publication with a system error, and delivers nothing", async () => {
    const { projectId, visitorId } = await newConversation();
    const { client } = await widgetClient(await visitorToken(visitorId));
    const conversations = listen(client, `conversations:${visitorId}`, { table: "conversations" });
    await subscribed(conversations, "error");
    expect(conversations.system[0]).toMatchObject({ extension: "postgres_changes", status: "error" });
    expect(conversations.system[0]!.message).toContain("Unable to subscribe to changes with given parameters");

    await stack.pool.query("insert into public.conversations (project_id, visitor_id) values ($1, $2)", [projectId, visitorId]);
    await changeFeedBarrier();
    expect(conversations.events).toEqual([]);
  });

  it("keeps delivering after the widget's token is refreshed past the old token's expiry", async () => {
    const { visitorId, conversationId } = await newConversation();
    const shortLived = 3;
    const { client, session } = await widgetClient(await visitorToken(visitorId, shortLived));
    const widget = listen(client, `refresh:${conversationId}`, { filter: `conversation_id=eq.${conversationId}` });
    await subscribed(widget);
    const firstExpiry = Date.now() + shortLived * 1000;

    session.token = await visitorToken(visitorId);
    await client.realtime.setAuth();
    await waitFor("the old token to have expired", async () => Date.now() > firstExpiry + 1500, { timeoutMs: 10_000 });
    await agentSays(stack.pool, conversationId, `after refresh ${marker()}`);
    await waitFor("the message after the refresh", async () => widget.events.length === 1);
    expect(widget.system.filter((s) => s.extension === "system")).toEqual([]);
  });

  it("refuses a join with an expired or forged token, with the real server's reason", async () => {
    const { visitorId } = await newConversation();
    const expired = listen((await widgetClient(await visitorToken(visitorId, -10))).client, `expired:${visitorId}`, null);
    const forged = listen((await widgetClient(await signJwt({ sub: visitorId, role: "authenticated", exp: Math.floor(Date.now() / 1000) + 60 }, "not-the-secret"))).client, `forged:${visitorId}`, null);
    await waitFor("both channel errors", async () => expired.statuses.includes("CHANNEL_ERROR") && forged.statuses.includes("CHANNEL_ERROR"));
    expect(expired.errors[0]).toMatch(/^InvalidJWTToken: Token has expired \d+ seconds ago$/);
    expect(forged.errors[0]).toBe("JwtSignatureError: Failed to validate JWT signature");
  });

  it("rejoins after Realtime restarts while a visitor waits, and still delivers the reply", async () => {
    const { visitorId, conversationId } = await newConversation();
    const { client } = await widgetClient(await visitorToken(visitorId));
    const widget = listen(client, `restart:${conversationId}`, { filter: `conversation_id=eq.${conversationId}` });
    await subscribed(widget);
    const question = `slow answer please ${marker()}`;
    stack.llm!.script(question, [{ delayMs: 6000 }]);

    await visitorSays(stack.pool, visitorId, conversationId, question);
    await waitFor("the LLM to be asked", async () => stack.llm!.requestsMentioning(question).length > 0);
    await stack.realtime.stop();
    await stack.realtime.start();
    await waitFor("the channel to rejoin", async () => widget.statuses.filter((s) => s === "SUBSCRIBED").length >= 2, { timeoutMs: 15_000 });
    await waitFor("the AI reply", async () => widget.events.some((e) => (e.new as { sender_id: string }).sender_id === "AI_BOT"));
    await changeFeedBarrier();
    expect(widget.events.filter((e) => (e.new as { sender_id: string }).sender_id === "AI_BOT")).toHaveLength(1);
  });
});

describe("broadcast", () => {
  it("delivers a public broadcast to the others, to the sender only with self, and acknowledges with ack", async () => {
    const topic = `room:${marker()}`;
    const a = (await widgetClient(null)).client;
    const b = (await widgetClient(null)).client;
    const heard = { a: [] as unknown[], b: [] as unknown[] };
    const channelA = a.channel(topic, { config: { broadcast: { self: true, ack: true } } }).on("broadcast", { event: "typing" }, (m) => heard.a.push(m.payload));
    const channelB = b.channel(topic).on("broadcast", { event: "typing" }, (m) => heard.b.push(m.payload));
    const statuses: string[] = [];
    channelA.subscribe((s) => statuses.push(`a:${s}`));
    channelB.subscribe((s) => statuses.push(`b:${s}`));
    await waitFor("both joined", async () => statuses.includes("a:SUBSCRIBED") && statuses.includes("b:SUBSCRIBED"));

    expect(await channelA.send({ type: "broadcast", event: "typing", payload: { from: "a" } })).toBe("ok");
    await waitFor("a and b hear a", async () => heard.a.length === 1 && heard.b.length === 1);
    expect(await channelB.send({ type: "broadcast", event: "typing", payload: { from: "b" } })).toBe("ok");
    await waitFor("a hears b", async () => heard.a.length === 2);
    expect(heard.a).toEqual([{ from: "a" }, { from: "b" }]);
    expect(heard.b).toEqual([{ from: "a" }]);
  });

  it("refuses a private channel to a visitor when no policy allows it, and admits the service role", async () => {
    const { visitorId } = await newConversation();
    const topic = `private:${marker()}`;
    const visitor = listen((await widgetClient(await visitorToken(visitorId))).client, topic, null, { private: true });
    const service = listen((await widgetClient(null, stack.keys.secretKey)).client, topic, null, { private: true });
    await waitFor("the visitor refused", async () => visitor.statuses.includes("CHANNEL_ERROR"));
    expect(visitor.errors[0]).toBe(`Unauthorized: You do not have permissions to read from this Channel topic: ${topic}`);
    await subscribed(service, "none");
  });

  it("accepts REST broadcasts with 202 and delivers them, and delivers realtime.send from the database", async () => {
    const topic = `rest:${marker()}`;
    const listener = (await widgetClient(null)).client;
    const heard: { event: string; payload: Record<string, unknown> }[] = [];
    const channel = listener.channel(topic).on("broadcast", { event: "*" }, (m) => heard.push({ event: m.event, payload: m.payload }));
    const statuses: string[] = [];
    channel.subscribe((s) => statuses.push(s));
    await waitFor("joined", async () => statuses.includes("SUBSCRIBED"));

    const headers = { apikey: stack.keys.secretKey, authorization: `Bearer ${stack.keys.secretKey}`, "content-type": "application/json" };
    const batch = await fetch(`${stack.gatewayUrl}/realtime/v1/api/broadcast`, { method: "POST", headers, body: JSON.stringify({ messages: [{ topic, event: "batch", payload: { n: 1 } }] }) });
    expect(batch.status).toBe(202);
    const single = await fetch(`${stack.gatewayUrl}/realtime/v1/api/broadcast/${encodeURIComponent(topic)}/events/single`, { method: "POST", headers, body: JSON.stringify({ n: 2 }) });
    expect(single.status).toBe(202);
    const noKey = await fetch(`${stack.gatewayUrl}/realtime/v1/api/broadcast`, { method: "POST", body: "{}" });
    expect(noKey.status).toBe(401);

    await stack.pool.query("select realtime.send('{\"n\": 3}'::jsonb, 'from-db', $1, false)", [topic]);
    await waitFor("three broadcasts", async () => heard.length === 3);
    expect(heard.slice(0, 2)).toEqual([{ event: "batch", payload: { n: 1 } }, { event: "single", payload: { n: 2 } }]);
    expect(heard[2]).toMatchObject({ event: "from-db", payload: { n: 3 } });
  });
});

describe("the publication decides", () => {
  it("stops delivering a table's rows once it leaves supabase_realtime", async () => {
    const { visitorId, conversationId } = await newConversation();
    const { client } = await widgetClient(await visitorToken(visitorId));
    const widget = listen(client, `publication:${conversationId}`, { filter: `conversation_id=eq.${conversationId}` });
    await subscribed(widget);
    await stack.pool.query("alter publication supabase_realtime drop table public.messages");
    try {
      await agentSays(stack.pool, conversationId, `unpublished ${marker()}`);
    } finally {
      await stack.pool.query("alter publication supabase_realtime add table public.messages");
    }
    const published = `published again ${marker()}`;
    await agentSays(stack.pool, conversationId, published);
    await waitFor("the message after the table is published again", async () => widget.events.length > 0);
    expect(contents(widget)).toEqual([published]);
  });
});
