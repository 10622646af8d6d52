import { randomUUID } from "node:crypto";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConfirmedUser } from "../local/auth/admin-users.ts";
import { startStack, type Stack } from "../local/stack.ts";
import { createProject, marker, startConversation, visitorSays, waitFor } from "./helpers.ts";

// Agents as their dashboard would be: real supabase-js signed in with a password, against the
// Auth, REST and Realtime stand-ins, under RLS. Project B is another customer's.
let stack: Stack;
let projectA: string;
let projectB: string;
const clients: SupabaseClient[] = [];
const password = "correct horse battery staple";

beforeAll(async () => {
  stack = await startStack();
  projectA = await createProject(stack.pool, { ai_enabled: false });
  projectB = await createProject(stack.pool, { ai_enabled: false });
});
afterAll(async () => {
  for (const client of clients) await client.removeAllChannels();
  await stack?.stop();
});

const newClient = () => {
  const client = createClient(stack.gatewayUrl, stack.keys.publishableKey, { auth: { persistSession: false, autoRefreshToken: false } });
  clients.push(client);
  return client;
};

/** A user made as Authentication > Add user does, member of a project, signed in through supabase-js. */
async function signedInMember(projectId: string, role: "agent" | "admin" = "agent") {
  const email = `agent-${randomUUID().slice(0, 8)}@example.com`;
  const userId = await createConfirmedUser(stack.pool, email, password);
  await stack.pool.query("insert into public.project_members (project_id, user_id, role) values ($1, $2, $3)", [projectId, userId, role]);
  const client = newClient();
  const { data, error } = await client.auth.signInWithPassword({ email, password });
  expect(error).toBeNull();
  return { client, userId, email, session: data.session! };
}

describe("signing in with a password (POST /auth/v1/token?grant_type=password)", () => {
  it("gives a confirmed user a session whose token says who they are and how they signed in", async () => {
    const { client, userId, email, session } = await signedInMember(projectA);
    expect(session.user).toMatchObject({ id: userId, email, role: "authenticated", is_anonymous: false, app_metadata: { provider: "email" } });
    const claims = JSON.parse(Buffer.from(session.access_token.split(".")[1]!, "base64url").toString());
    expect(claims).toMatchObject({ sub: userId, email, role: "authenticated", is_anonymous: false, amr: [{ method: "password" }] });
    const { data: { user } } = await client.auth.getUser();
    expect(user?.id).toBe(userId);
    const { data: refreshed, error } = await client.auth.refreshSession();
    expect(error).toBeNull();
    expect(refreshed.session?.user.id).toBe(userId);
  });

  it("answers a wrong password and an unknown email alike: 400 invalid_credentials", async () => {
    const email = `agent-${randomUUID().slice(0, 8)}@example.com`;
    await createConfirmedUser(stack.pool, email, password);
    for (const attempt of [{ email, password: "wrong password" }, { email: `nobody-${randomUUID()}@example.com`, password }]) {
      const { data, error } = await newClient().auth.signInWithPassword(attempt);
      expect(data.session).toBeNull();
      expect({ status: error?.status, code: error?.code, message: error?.message })
        .toEqual({ status: 400, code: "invalid_credentials", message: "Invalid login credentials" });
    }
  });

  it("matches the email whatever its case, and refuses an unconfirmed one", async () => {
    const email = `agent-${randomUUID().slice(0, 8)}@example.com`;
    await createConfirmedUser(stack.pool, email, password);
    const { error: caseError } = await newClient().auth.signInWithPassword({ email: email.toUpperCase(), password });
    expect(caseError).toBeNull();
    await stack.pool.query("update auth.users set email_confirmed_at = null where email = $1", [email]);
    const { error } = await newClient().auth.signInWithPassword({ email, password });
    expect({ status: error?.status, code: error?.code, message: error?.message })
      .toEqual({ status: 400, code: "email_not_confirmed", message: "Email not confirmed" });
  });

  it("fails like GoTrue for a user inserted by SQL with NULL token columns (supabase/auth issue 1940)", async () => {
    const email = `agent-${randomUUID().slice(0, 8)}@example.com`;
    await createConfirmedUser(stack.pool, email, password);
    await stack.pool.query("update auth.users set confirmation_token = null where email = $1", [email]);
    const response = await fetch(`${stack.gatewayUrl}/auth/v1/token?grant_type=password`, {
      method: "POST",
      headers: { apikey: stack.keys.publishableKey, "content-type": "application/json", "x-supabase-api-version": "2024-01-01" },
      body: JSON.stringify({ email, password }),
    });
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ code: "unexpected_failure", message: "Database error querying schema" });
  });
});

describe("an agent's dashboard through REST", () => {
  it("reads project A's conversations and inbox, and nothing of project B", async () => {
    const { client } = await signedInMember(projectA);
    const mine = await startConversation(stack.pool, projectA);
    await visitorSays(stack.pool, mine.visitorId, mine.conversationId, "Where is my order?");
    const theirs = await startConversation(stack.pool, projectB);
    await visitorSays(stack.pool, theirs.visitorId, theirs.conversationId, "Hello B");

    const { data: conversations } = await client.from("conversations").select("id, project_id");
    expect(conversations!.map((row) => row.id)).toContain(mine.conversationId);
    expect(new Set(conversations!.map((row) => row.project_id))).toEqual(new Set([projectA]));
    const { data: inbox, error } = await client.from("agent_inbox").select().eq("conversation_id", mine.conversationId).single();
    expect(error).toBeNull();
    expect(inbox).toMatchObject({ project_id: projectA, last_message: "Where is my order?", last_from_customer: true, handed_off_to: null, waiting_since: expect.any(String) });
    const { data: leaked } = await client.from("messages").select().eq("conversation_id", theirs.conversationId);
    expect(leaked).toEqual([]);
  });

  it("writes in a conversation, taking it over, and hands it back to the AI through the RPC", async () => {
    const { client, userId } = await signedInMember(projectA);
    const { conversationId } = await startConversation(stack.pool, projectA);
    const { error } = await client.from("messages").insert({ conversation_id: conversationId, sender_id: userId, from_customer: false, content: "Hi, Sam here" });
    expect(error).toBeNull();
    const { data: taken } = await client.from("agent_inbox").select("handed_off_to, waiting_since").eq("conversation_id", conversationId).single();
    expect(taken).toEqual({ handed_off_to: userId, waiting_since: null });

    const { data: handedBack, error: rpcError } = await client.rpc("hand_back_to_ai", { conversation_id: conversationId });
    expect(rpcError).toBeNull();
    expect(handedBack).toMatchObject({ id: conversationId, handed_off_to: null });
  });

  it("is refused (403) when handing back another project's conversation, or beating as a visitor", async () => {
    const { client } = await signedInMember(projectA);
    const theirs = await startConversation(stack.pool, projectB);
    const { error } = await client.rpc("hand_back_to_ai", { conversation_id: theirs.conversationId });
    expect({ code: error?.code, message: error?.message })
      .toEqual({ code: "42501", message: `You are not a member of the project of conversation ${theirs.conversationId}` });

    const visitor = newClient();
    await visitor.auth.signInAnonymously();
    const { error: visitorError, status } = await visitor.rpc("agent_heartbeat");
    expect({ status, message: visitorError?.message }).toEqual({ status: 403, message: "Only signed-in agents have a presence" });
  });

  it("beats with agent_heartbeat, which makes the agent online", async () => {
    const { client } = await signedInMember(projectA);
    const { data, error } = await client.rpc("agent_heartbeat", { project_id: projectA });
    expect({ data, error }).toEqual({ data: 1, error: null });
    const { rows: [state] } = await stack.pool.query("select private.agents_online($1) as online", [projectA]);
    expect(state).toEqual({ online: true });
    await client.rpc("agent_away");
  });

  it("lets an admin, and not an agent, change the project's AI settings", async () => {
    const { client: admin } = await signedInMember(projectA, "admin");
    const { client: agent } = await signedInMember(projectA, "agent");
    const { data: denied } = await agent.from("projects").update({ ai_mode: "when_no_agent_online" }).eq("id", projectA).select("id");
    expect(denied).toEqual([]);
    const { data, error } = await admin.from("projects").update({ ai_mode: "when_no_agent_online", agent_online_window_seconds: 90 }).eq("id", projectA).select("ai_mode, agent_online_window_seconds").single();
    expect(error).toBeNull();
    expect(data).toEqual({ ai_mode: "when_no_agent_online", agent_online_window_seconds: 90 });
    const { data: other } = await admin.from("projects").update({ ai_enabled: true }).eq("id", projectB).select("id");
    expect(other).toEqual([]);
    await stack.pool.query("update public.projects set ai_mode = 'always' where id = $1", [projectA]);
  });
});

describe("an agent's dashboard through Realtime", () => {
  it("receives every new message of project A, and none of project B", async () => {
    const { client } = await signedInMember(projectA);
    const received: { conversation_id: string; content: string }[] = [];
    const statuses: string[] = [];
    const system: { extension?: string; status?: string }[] = [];
    client
      .channel(`agent:${randomUUID()}`)
      .on("postgres_changes", { event: "INSERT", schema: "public", table: "messages" }, (payload) => received.push(payload.new as { conversation_id: string; content: string }))
      .on("system", {}, (payload) => system.push(payload))
      .subscribe((status) => statuses.push(status));
    await waitFor("SUBSCRIBED", async () => statuses.includes("SUBSCRIBED"));
    await waitFor("postgres_changes ok", async () => system.some((s) => s.extension === "postgres_changes" && s.status === "ok"));

    const mine = await startConversation(stack.pool, projectA);
    const theirs = await startConversation(stack.pool, projectB);
    const [first, secret, last] = [marker(), marker(), marker()];
    await visitorSays(stack.pool, mine.visitorId, mine.conversationId, first);
    await visitorSays(stack.pool, theirs.visitorId, theirs.conversationId, secret);
    // Committed after B's message: once it arrives, B's was fanned out too (commit order).
    await visitorSays(stack.pool, mine.visitorId, mine.conversationId, last);
    await waitFor("project A's messages", async () => received.some((m) => m.content === last));

    const contents = received.map((m) => m.content);
    expect(contents).toEqual(expect.arrayContaining([first, last]));
    expect(contents).not.toContain(secret);
    expect(received.filter((m) => m.conversation_id === theirs.conversationId)).toEqual([]);
  });
});

describe("npm start's demo agent (supabase/seed.sql, local/agent-console.ts)", () => {
  it("signs in from the seed, comes online (the demo's AI steps aside), writes, hands back and goes away", async () => {
    const demoProject = "00000000-0000-4000-8000-000000000001";
    const { createDemoAgent } = await import("../local/agent-console.ts");
    const demoAgent = createDemoAgent(stack.gatewayUrl, stack.keys.publishableKey, demoProject);
    const online = async () => (await stack.pool.query("select private.agents_online($1) as online", [demoProject])).rows[0].online;
    try {
      const { rows: [settings] } = await stack.pool.query("select ai_mode from public.projects where id = $1", [demoProject]);
      expect(settings).toEqual({ ai_mode: "when_no_agent_online" });
      await demoAgent.online();
      expect(await online()).toBe(true);
      const { conversationId } = await startConversation(stack.pool, demoProject);
      await demoAgent.say(conversationId, "Hello from the bakery");
      const { rows: [taken] } = await stack.pool.query("select handed_off_to from public.conversations where id = $1", [conversationId]);
      expect(taken).toEqual({ handed_off_to: "00000000-0000-4000-8000-00000000a9e1" });
      await demoAgent.handBack(conversationId);
      await demoAgent.offline();
      expect(await online()).toBe(false);
    } finally {
      demoAgent.stop();
    }
  });
});
