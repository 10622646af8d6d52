// The visitor's side of the guardrails, as a script would try them: anonymous sign-in through
// Auth, then supabase-js against PostgREST (local/rest.ts), the real triggers and policies.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../local/stack.ts";
import { createProject, type ProjectSettings } from "./helpers.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ auth: { anonymousSignInsPerHour: 1000 } });
});
afterAll(() => stack?.stop());

/** The project's own defaults for the limits under test (createProject lifts the message rate otherwise). */
const DEFAULT_LIMITS: ProjectSettings = { visitor_messages_per_minute: 10, visitor_conversations_per_hour: 3 };

async function signedInVisitor(origin?: string): Promise<{ id: string; supabase: SupabaseClient }> {
  const supabase = createClient(stack.gatewayUrl, stack.keys.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    ...(origin ? { global: { headers: { Origin: origin } } } : {}),
  });
  const { data, error } = await supabase.auth.signInAnonymously();
  if (error || !data.user) throw error ?? new Error("no user");
  return { id: data.user.id, supabase };
}

const count = async (sql: string, values: unknown[]) => Number((await stack.pool.query(sql, values)).rows[0].n);
/** Moves a visitor's window back, as the clock would: no test sleeps a minute. */
const windowPasses = (visitorId: string, kind: "message" | "conversation", by: string) =>
  stack.pool.query(
    "update private.visitor_rate_counters set window_start = window_start - $3::interval where visitor_id = $1 and kind = $2",
    [visitorId, kind, by],
  );

describe("messages per minute, per visitor", () => {
  it("refuses the 11th message within a minute with 429 and when to retry, stores nothing, and accepts again once the minute has passed", async () => {
    const projectId = await createProject(stack.pool, { ai_enabled: false, ...DEFAULT_LIMITS });
    const visitor = await signedInVisitor();
    const { data: conversation } = await visitor.supabase.from("conversations")
      .insert({ project_id: projectId, visitor_id: visitor.id }).select().single();
    const send = (content: string) =>
      visitor.supabase.from("messages").insert({ conversation_id: conversation!.id, sender_id: visitor.id, from_customer: true, content });

    for (let i = 1; i <= 10; i++) expect((await send(`message ${i}`)).status).toBe(201);
    const refused = await send("message 11");
    expect(refused.status).toBe(429);
    expect(refused.error).toMatchObject({
      code: "PT429",
      message: expect.stringMatching(/^You are sending messages too quickly; try again in ([1-9]|[1-5]\d|60) s$/),
      details: "At most 10 messages per minute per visitor.",
    });
    expect(await count("select count(*) as n from public.messages where conversation_id = $1", [conversation!.id])).toBe(10);
    // A refused attempt is not counted: hammering does not extend the wait.
    expect((await send("message 12")).status).toBe(429);
    expect(await count("select count as n from private.visitor_rate_counters where visitor_id = $1 and kind = 'message'", [visitor.id])).toBe(10);

    await windowPasses(visitor.id, "message", "61 seconds");
    expect((await send("after a minute")).status).toBe(201);
    expect(await count("select count(*) as n from public.messages where conversation_id = $1", [conversation!.id])).toBe(11);
  });

  it("counts per visitor, not per conversation, and leaves other visitors alone", async () => {
    const projectId = await createProject(stack.pool, { ai_enabled: false, visitor_messages_per_minute: 2 });
    const [hostile, bystander] = [await signedInVisitor(), await signedInVisitor()];
    const conversationOf = async (v: typeof hostile) =>
      (await v.supabase.from("conversations").insert({ project_id: projectId, visitor_id: v.id }).select().single()).data!.id as string;
    const [first, second, theirs] = [await conversationOf(hostile), await conversationOf(hostile), await conversationOf(bystander)];
    const send = (v: typeof hostile, conversationId: string) =>
      v.supabase.from("messages").insert({ conversation_id: conversationId, sender_id: v.id, from_customer: true, content: "hi" });
    expect((await send(hostile, first)).status).toBe(201);
    expect((await send(hostile, second)).status).toBe(201);
    expect((await send(hostile, first)).status).toBe(429);
    expect((await send(hostile, second)).status).toBe(429);
    expect((await send(bystander, theirs)).status).toBe(201);
  });
});

describe("conversations per hour, per visitor", () => {
  it("refuses the 4th conversation within an hour with 429, stores nothing, and accepts again after the hour", async () => {
    const projectId = await createProject(stack.pool, { ai_enabled: false, ...DEFAULT_LIMITS });
    const visitor = await signedInVisitor();
    const start = () => visitor.supabase.from("conversations").insert({ project_id: projectId, visitor_id: visitor.id }).select().single();
    for (let i = 0; i < 3; i++) expect((await start()).status).toBe(201);
    const refused = await start();
    expect(refused.status).toBe(429);
    expect(refused.error).toMatchObject({
      code: "PT429",
      message: expect.stringMatching(/^You are starting conversations too quickly; try again in \d+ s$/),
      details: "At most 3 conversations per hour per visitor.",
    });
    expect(await count("select count(*) as n from public.conversations where visitor_id = $1", [visitor.id])).toBe(3);
    await windowPasses(visitor.id, "conversation", "1 hour");
    expect((await start()).status).toBe(201);
  });
});

describe("one row per visitor request", () => {
  it("refuses two messages in one request with 400 'Send one message at a time', storing neither", async () => {
    const projectId = await createProject(stack.pool, { ai_enabled: false, ...DEFAULT_LIMITS });
    const visitor = await signedInVisitor();
    const { data: conversation } = await visitor.supabase.from("conversations").insert({ project_id: projectId, visitor_id: visitor.id }).select().single();
    const row = { conversation_id: conversation!.id, sender_id: visitor.id, from_customer: true, content: "x" };
    const { status, error } = await visitor.supabase.from("messages").insert([row, row]);
    expect(status).toBe(400);
    expect(error).toMatchObject({ code: "PT400", message: "Send one message at a time" });
    expect(await count("select count(*) as n from public.messages where conversation_id = $1", [conversation!.id])).toBe(0);
  });

  it("refuses 500 conversations in one request and stores none", async () => {
    const projectId = await createProject(stack.pool, { ai_enabled: false, ...DEFAULT_LIMITS });
    const visitor = await signedInVisitor();
    const rows = Array.from({ length: 500 }, () => ({ project_id: projectId, visitor_id: visitor.id }));
    const { status, error } = await visitor.supabase.from("conversations").insert(rows);
    // The row limit fires first (the 4th row), before the statement's one-row check.
    expect(status).toBe(429);
    expect(error).toMatchObject({ code: "PT429" });
    const two = await visitor.supabase.from("conversations").insert(rows.slice(0, 2));
    expect(two).toMatchObject({ status: 400, error: { code: "PT400", message: "Send one conversation at a time" } });
    expect(await count("select count(*) as n from public.conversations where visitor_id = $1", [visitor.id])).toBe(0);
  });
});

describe("allowed origins", () => {
  it("lets a visitor start a conversation only from one of the project's origins; an empty list allows any", async () => {
    const bound = await createProject(stack.pool, { ai_enabled: false, allowed_origins: ["https://shop.example", "https://www.shop.example/"] });
    const open = await createProject(stack.pool, { ai_enabled: false });
    const start = async (origin: string | undefined, projectId: string) => {
      const visitor = await signedInVisitor(origin);
      return visitor.supabase.from("conversations").insert({ project_id: projectId, visitor_id: visitor.id }).select().single();
    };
    expect((await start("https://shop.example", bound)).status).toBe(201);
    expect((await start("https://www.shop.example", bound)).status).toBe(201);
    for (const origin of ["https://evil.example", "http://shop.example", "https://shop.example.evil.example", undefined]) {
      const refused = await start(origin, bound);
      expect(refused.status, String(origin)).toBe(403);
      expect(refused.error).toMatchObject({ code: "42501", message: 'new row violates row-level security policy for table "conversations"' });
    }
    expect((await start("https://anywhere.example", open)).status).toBe(201);
    expect((await start(undefined, open)).status).toBe(201);
  });

  it("answers an unknown project as a refused one (403), not with a foreign-key error that would confirm ids", async () => {
    const visitor = await signedInVisitor();
    const refused = await visitor.supabase.from("conversations").insert({ project_id: "00000000-0000-4000-8000-000000000000", visitor_id: visitor.id });
    expect(refused.status).toBe(403);
    expect(refused.error).toMatchObject({ code: "42501" });
  });
});

describe("ids and timestamps come from the database", () => {
  it("refuses a visitor's chosen id or created_at (403 42501), so an insert reveals nothing about other rows", async () => {
    const projectId = await createProject(stack.pool, { ai_enabled: false });
    const visitor = await signedInVisitor();
    const { data: conversation } = await visitor.supabase.from("conversations").insert({ project_id: projectId, visitor_id: visitor.id }).select().single();
    const { rows: [other] } = await stack.pool.query("select id from public.messages limit 1");
    const attempts = [
      visitor.supabase.from("conversations").insert({ id: conversation!.id, project_id: projectId, visitor_id: visitor.id }),
      visitor.supabase.from("messages").insert({ id: other?.id ?? conversation!.id, conversation_id: conversation!.id, sender_id: visitor.id, from_customer: true, content: "x" }),
      visitor.supabase.from("messages").insert({ conversation_id: conversation!.id, sender_id: visitor.id, from_customer: true, content: "x", created_at: "2020-01-01T00:00:00Z" }),
    ];
    for (const { status, error } of await Promise.all(attempts)) {
      expect(status).toBe(403);
      expect(error).toMatchObject({ code: "42501", message: expect.stringMatching(/^permission denied for table (messages|conversations)$/) });
    }
  });
});
