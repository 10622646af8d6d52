import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signJwt } from "../local/api-keys.ts";
import { startStack, type Stack } from "../local/stack.ts";
import { createProject, createVisitor, marker, messagesOf, startConversation } from "./helpers.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

/** An anonymous visitor as Auth would sign them in (the Auth stand-in is built elsewhere). */
async function signedInVisitor(): Promise<{ id: string; jwt: string; supabase: SupabaseClient }> {
  const id = await createVisitor(stack.pool);
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const jwt = await signJwt({ role: "authenticated", sub: id, is_anonymous: true, aud: "authenticated", exp }, stack.keys.jwtSecret);
  return { id, jwt, supabase: clientWith(jwt) };
}

function clientWith(bearer?: string): SupabaseClient {
  return createClient(stack.gatewayUrl, stack.keys.publishableKey, {
    auth: { persistSession: false },
    ...(bearer ? { global: { headers: { Authorization: `Bearer ${bearer}` } } } : {}),
  });
}

const rest = (path: string, init: RequestInit & { jwt?: string } = {}) =>
  fetch(`${stack.gatewayUrl}/rest/v1/${path}`, {
    ...init,
    headers: {
      apikey: stack.keys.publishableKey,
      ...(init.jwt ? { Authorization: `Bearer ${init.jwt}` } : {}),
      ...(init.body ? { "Content-Type": "application/json" } : {}),
      ...(init.headers as Record<string, string>),
    },
  });

const rowCount = async (table: string, where: string, values: unknown[]) =>
  Number((await stack.pool.query<{ n: string }>(`select count(*) as n from public.${table} where ${where}`, values)).rows[0]!.n);

describe("the widget's calls (README), as a visitor through supabase-js", () => {
  it("starts a conversation with insert().select().single(): 201 and the row as one object", async () => {
    const projectId = await createProject(stack.pool);
    const visitor = await signedInVisitor();
    const { data, error, status } = await visitor.supabase
      .from("conversations").insert({ project_id: projectId, visitor_id: visitor.id }).select().single();
    expect(error).toBeNull();
    expect(status).toBe(201);
    expect(data).toMatchObject({ project_id: projectId, visitor_id: visitor.id, handed_off_to: null });
    expect(await rowCount("conversations", "id = $1", [data.id])).toBe(1);
  });

  it("sends a message with a plain insert: 201, no body, the row saved", async () => {
    const { visitorId, conversationId } = await startConversation(stack.pool, await createProject(stack.pool, { ai_enabled: false }));
    const visitor = { supabase: clientWith(await signJwtFor(visitorId)) };
    const content = marker();
    const { data, error, status } = await visitor.supabase
      .from("messages").insert({ conversation_id: conversationId, sender_id: visitorId, from_customer: true, content });
    expect(error).toBeNull();
    expect(status).toBe(201);
    expect(data).toBeNull();
    expect((await messagesOf(stack.pool, conversationId)).map((m) => m.content)).toEqual([content]);
  });

  it("reads the history oldest first, limited, and only the visitor's own", async () => {
    const projectId = await createProject(stack.pool, { ai_enabled: false });
    const { visitorId, conversationId } = await startConversation(stack.pool, projectId);
    const other = await startConversation(stack.pool, projectId);
    for (const [conversation, content, at] of [
      [conversationId, "third", "2026-01-01T10:03:00Z"], [conversationId, "first", "2026-01-01T10:01:00Z"],
      [conversationId, "second", "2026-01-01T10:02:00Z"], [other.conversationId, "not yours", "2026-01-01T10:00:00Z"],
    ]) {
      await stack.pool.query(
        "insert into public.messages (conversation_id, sender_id, from_customer, content, created_at) values ($1, 'agent-1', false, $2, $3)",
        [conversation, content, at],
      );
    }
    const supabase = clientWith(await signJwtFor(visitorId));
    const history = await supabase.from("messages").select("*").eq("conversation_id", conversationId).order("created_at", { ascending: true }).limit(2);
    expect(history.error).toBeNull();
    expect(history.data!.map((m) => m.content)).toEqual(["first", "second"]);
    const stolen = await supabase.from("messages").select("content").eq("conversation_id", other.conversationId);
    expect(stolen).toMatchObject({ error: null, status: 200, data: [] });
  });
});

describe("PostgREST's wire answers", () => {
  it("answers Content-Range 0-n/* for a page and */* when empty", async () => {
    const { visitorId, conversationId } = await startConversation(stack.pool, await createProject(stack.pool, { ai_enabled: false }));
    const jwt = await signJwtFor(visitorId);
    const empty = await rest(`messages?select=*&conversation_id=eq.${conversationId}`, { jwt, headers: { "Accept-Profile": "public" } });
    expect(empty.status).toBe(200);
    expect(empty.headers.get("content-range")).toBe("*/*");
    expect(await empty.json()).toEqual([]);
    for (const n of [1, 2]) {
      await rest("messages", { method: "POST", jwt, body: JSON.stringify({ conversation_id: conversationId, sender_id: visitorId, from_customer: true, content: `m${n}` }) });
    }
    const page = await rest(`messages?select=content&conversation_id=eq.${conversationId}&order=content.desc&limit=50`, { jwt });
    expect(page.headers.get("content-range")).toBe("0-1/*");
    expect(await page.json()).toEqual([{ content: "m2" }, { content: "m1" }]);
  });

  it("counts exactly on request, with 206 for a partial page", async () => {
    const { visitorId, conversationId } = await startConversation(stack.pool, await createProject(stack.pool, { ai_enabled: false }));
    const supabase = clientWith(await signJwtFor(visitorId));
    for (const content of ["a", "b", "c"]) await supabase.from("messages").insert({ conversation_id: conversationId, sender_id: visitorId, from_customer: true, content });
    const { data, count, status } = await supabase.from("messages").select("content", { count: "exact" }).eq("conversation_id", conversationId).order("content").limit(2);
    expect({ data, count, status }).toEqual({ data: [{ content: "a" }, { content: "b" }], count: 3, status: 206 });
  });

  it("filters with in, is, neq, gt and not, as the service role reads", async () => {
    const { visitorId, conversationId } = await startConversation(stack.pool, await createProject(stack.pool, { ai_enabled: false }));
    const supabase = clientWith(await signJwtFor(visitorId));
    for (const content of ["a", "b", "c"]) await supabase.from("messages").insert({ conversation_id: conversationId, sender_id: visitorId, from_customer: true, content });
    const service = createClient(stack.gatewayUrl, stack.keys.secretKey, { auth: { persistSession: false } });
    const base = () => service.from("messages").select("content").eq("conversation_id", conversationId).order("content");
    expect((await base().in("content", ["a", "c", "z"])).data).toEqual([{ content: "a" }, { content: "c" }]);
    expect((await base().is("reply_to", null).neq("content", "b")).data).toEqual([{ content: "a" }, { content: "c" }]);
    expect((await base().gt("content", "a").not("content", "eq", "c")).data).toEqual([{ content: "b" }]);
  });

  it("inserts an array with ?columns= and returns every row (the service role: visitors send one row at a time)", async () => {
    const { visitorId, conversationId } = await startConversation(stack.pool, await createProject(stack.pool, { ai_enabled: false }));
    const supabase = createClient(stack.gatewayUrl, stack.keys.secretKey, { auth: { persistSession: false } });
    const rows = ["x", "y"].map((content) => ({ conversation_id: conversationId, sender_id: visitorId, from_customer: true, content }));
    const { data, error, status } = await supabase.from("messages").insert(rows).select("content");
    expect(error).toBeNull();
    expect(status).toBe(201);
    expect(data!.map((m) => m.content).sort()).toEqual(["x", "y"]);
  });

  it("lets the service role PATCH the column it is granted, with the rows back", async () => {
    const { conversationId } = await startConversation(stack.pool, await createProject(stack.pool, { ai_enabled: false }));
    const service = createClient(stack.gatewayUrl, stack.keys.secretKey, { auth: { persistSession: false } });
    const { data, error, status } = await service.from("conversations").update({ handed_off_to: "agent-7" }).eq("id", conversationId).select("id, handed_off_to");
    expect(error).toBeNull();
    expect(status).toBe(200);
    expect(data).toEqual([{ id: conversationId, handed_off_to: "agent-7" }]);
  });
});

describe("what a visitor may not do, refused as PostgREST refuses it", () => {
  const messageFrom = (conversationId: string, senderId: string, extra: Record<string, unknown> = {}) =>
    ({ conversation_id: conversationId, sender_id: senderId, from_customer: true, content: marker(), ...extra });

  it.each([
    ["a forged agent message", (c: string, v: string) => messageFrom(c, v, { from_customer: false }), "new row violates row-level security policy for table \"messages\""],
    ["an AI_BOT message", (c: string) => messageFrom(c, "AI_BOT", { from_customer: false }), "new row violates row-level security policy for table \"messages\""],
    ["a reply_to", (c: string, v: string) => messageFrom(c, v, { reply_to: c }), "permission denied for table messages"],
  ])("refuses %s with 403 42501 and writes nothing", async (_, message, expected) => {
    const { visitorId, conversationId } = await startConversation(stack.pool, await createProject(stack.pool, { ai_enabled: false }));
    const supabase = clientWith(await signJwtFor(visitorId));
    const { error, status } = await supabase.from("messages").insert(message(conversationId, visitorId));
    expect(status).toBe(403);
    expect(error).toMatchObject({ code: "42501", message: expected });
    expect(await messagesOf(stack.pool, conversationId)).toEqual([]);
  });

  it("refuses an array of messages from a visitor with 400 PT400 and writes none of them", async () => {
    const { visitorId, conversationId } = await startConversation(stack.pool, await createProject(stack.pool, { ai_enabled: false }));
    const supabase = clientWith(await signJwtFor(visitorId));
    const { error, status } = await supabase.from("messages").insert([messageFrom(conversationId, visitorId), messageFrom(conversationId, visitorId)]);
    expect(status).toBe(400);
    expect(error).toMatchObject({ code: "PT400", message: "Send one message at a time" });
    expect(await messagesOf(stack.pool, conversationId)).toEqual([]);
  });

  it("refuses a message into another visitor's conversation", async () => {
    const projectId = await createProject(stack.pool, { ai_enabled: false });
    const victim = await startConversation(stack.pool, projectId);
    const intruder = await signedInVisitor();
    const { error, status } = await intruder.supabase.from("messages").insert(messageFrom(victim.conversationId, intruder.id));
    expect(status).toBe(403);
    expect(error).toMatchObject({ code: "42501" });
    expect(await messagesOf(stack.pool, victim.conversationId)).toEqual([]);
  });

  it("cannot PATCH or DELETE messages, conversations or projects (no grant: 403 42501; project settings: RLS hides every row, 204), and nothing changes", async () => {
    const projectId = await createProject(stack.pool, { ai_enabled: false });
    const { visitorId, conversationId } = await startConversation(stack.pool, projectId);
    const supabase = clientWith(await signJwtFor(visitorId));
    await supabase.from("messages").insert(messageFrom(conversationId, visitorId, { content: "original" }));
    const attempts = [
      supabase.from("messages").update({ content: "edited" }).eq("conversation_id", conversationId),
      supabase.from("messages").delete().eq("conversation_id", conversationId),
      supabase.from("conversations").update({ handed_off_to: null, visitor_id: null }).eq("id", conversationId),
      supabase.from("conversations").delete().eq("id", conversationId),
      supabase.from("projects").delete().eq("id", projectId),
    ];
    for (const { status, error } of await Promise.all(attempts)) {
      expect(status).toBe(403);
      expect(error).toMatchObject({ code: "42501", message: expect.stringMatching(/^permission denied for table (messages|conversations|projects)$/) });
    }
    // Admins of a project may update its settings (column grants to authenticated), so a
    // visitor's PATCH reaches RLS, which shows them no project row to update.
    const settings = await supabase.from("projects").update({ ai_enabled: true }).eq("id", projectId);
    expect(settings).toMatchObject({ status: 204, error: null });
    expect((await messagesOf(stack.pool, conversationId)).map((m) => m.content)).toEqual(["original"]);
    expect(await rowCount("conversations", "id = $1 and visitor_id = $2", [conversationId, visitorId])).toBe(1);
    expect(await rowCount("projects", "id = $1 and not ai_enabled", [projectId])).toBe(1);
  });

  it("answers anon (publishable key, no user) reading conversations with 401 42501", async () => {
    const { error, status } = await clientWith().from("conversations").select("*");
    expect(status).toBe(401);
    expect(error).toMatchObject({ code: "42501", message: "permission denied for table conversations" });
  });

  it("answers .single() on no rows with 406 PGRST116, exactly", async () => {
    const visitor = await signedInVisitor();
    const response = await rest(`conversations?select=*&id=eq.00000000-0000-4000-8000-000000000000`, {
      jwt: visitor.jwt, headers: { Accept: "application/vnd.pgrst.object+json" },
    });
    expect(response.status).toBe(406);
    expect(await response.json()).toEqual({ code: "PGRST116", details: "The result contains 0 rows", hint: null, message: "Cannot coerce the result to a single JSON object" });
  });

  it("rolls back a write that cannot be coerced to one object", async () => {
    const { visitorId, conversationId } = await startConversation(stack.pool, await createProject(stack.pool, { ai_enabled: false }));
    const supabase = createClient(stack.gatewayUrl, stack.keys.secretKey, { auth: { persistSession: false } });
    const { error, status } = await supabase.from("messages").insert([messageFrom(conversationId, visitorId), messageFrom(conversationId, visitorId)]).select().single();
    expect(status).toBe(406);
    expect(error).toMatchObject({ code: "PGRST116", details: "The result contains 2 rows" });
    expect(await messagesOf(stack.pool, conversationId)).toEqual([]);
  });

  it("answers an unknown column with 400 42703, a malformed uuid with 400 22P02, an unknown table with 404 PGRST205", async () => {
    const visitor = await signedInVisitor();
    const unknownColumn = await visitor.supabase.from("messages").select("*").eq("nope", "1");
    expect(unknownColumn).toMatchObject({ status: 400, error: { code: "42703", message: "column messages.nope does not exist" } });
    const badUuid = await visitor.supabase.from("messages").select("*").eq("conversation_id", "not-a-uuid");
    expect(badUuid).toMatchObject({ status: 400, error: { code: "22P02" } });
    const unknownTable = await visitor.supabase.from("secrets").select("*");
    expect(unknownTable).toMatchObject({ status: 404, error: { code: "PGRST205", message: "Could not find the table 'public.secrets' in the schema cache" } });
  });

  it("refuses bodies PostgREST refuses: keys that differ (PGRST102), unknown columns (PGRST204), over 1 MiB (413)", async () => {
    const visitor = await signedInVisitor();
    const mixed = await rest("messages", { method: "POST", jwt: visitor.jwt, body: JSON.stringify([{ content: "a" }, { sender_id: "b" }]) });
    expect(mixed.status).toBe(400);
    expect(await mixed.json()).toMatchObject({ code: "PGRST102", message: "All object keys must match" });
    const unknown = await rest("messages", { method: "POST", jwt: visitor.jwt, body: JSON.stringify({ colour: "red" }) });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ code: "PGRST204", message: "Could not find the 'colour' column of 'messages' in the schema cache" });
    const huge = await rest("messages", { method: "POST", jwt: visitor.jwt, body: JSON.stringify({ content: "x".repeat(1024 * 1024) }) });
    expect(huge.status).toBe(413);
  });

  it("answers another schema profile with 406 PGRST106", async () => {
    const response = await rest("users?select=*", { headers: { "Accept-Profile": "auth" } });
    expect(response.status).toBe(406);
    expect(await response.json()).toMatchObject({ code: "PGRST106", message: "Invalid schema: auth" });
  });

  it("answers a bad or expired JWT with 401 PGRST301/PGRST303 and WWW-Authenticate", async () => {
    const forged = await signJwt({ role: "service_role" }, "not-the-project-secret-not-the-project-secret");
    const bad = await rest("messages?select=*", { jwt: forged });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("www-authenticate")).toBe('Bearer error="invalid_token", error_description="JWT cryptographic operation failed"');
    expect(await bad.json()).toMatchObject({ code: "PGRST301" });
    const expired = await signJwt({ role: "authenticated", sub: "x", exp: Math.floor(Date.now() / 1000) - 60 }, stack.keys.jwtSecret);
    const { error, status } = await clientWith(expired).from("messages").select("*");
    expect(status).toBe(401);
    expect(error).toMatchObject({ code: "PGRST303", message: "JWT expired" });
  });

  it("says plainly what is not in the stand-in (embedding) instead of answering wrongly", async () => {
    const visitor = await signedInVisitor();
    const { error, status } = await visitor.supabase.from("conversations").select("*, messages(*)");
    expect(status).toBe(400);
    expect(error!.message).toMatch(/not in the local stand-in of PostgREST/);
  });
});

function signJwtFor(visitorId: string): Promise<string> {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  return signJwt({ role: "authenticated", sub: visitorId, is_anonymous: true, aud: "authenticated", exp }, stack.keys.jwtSecret);
}
