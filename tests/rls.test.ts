import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Claims, withClaims } from "../local/visitor.ts";
import { agentSays, createProject, createVisitor, startConversation, visitorSays } from "./helpers.ts";
import { startTestDatabase, type TestDatabase } from "./test-database.ts";

let db: TestDatabase;
let projectId: string;
let a: { visitorId: string; conversationId: string; messageId: string };
let b: { visitorId: string; conversationId: string; messageId: string };

beforeAll(async () => {
  db = await startTestDatabase();
  await db.pool.query("delete from vault.secrets"); // no webhooks needed here
  projectId = await createProject(db.pool, { ai_enabled: false });
  const conversationA = await startConversation(db.pool, projectId);
  const conversationB = await startConversation(db.pool, projectId);
  a = { ...conversationA, messageId: await visitorSays(db.pool, conversationA.visitorId, conversationA.conversationId, "I am A") };
  b = { ...conversationB, messageId: await visitorSays(db.pool, conversationB.visitorId, conversationB.conversationId, "I am B") };
  await db.pool.query(
    "insert into public.messages (conversation_id, sender_id, from_customer, content, reply_to) values ($1, 'AI_BOT', false, 'AI answer to A', $2)",
    [a.conversationId, a.messageId],
  );
  await agentSays(db.pool, a.conversationId, "Agent note to A");
});
afterAll(() => db?.stop());

const visitor = (id: () => string): Claims => ({ role: "authenticated", sub: id(), is_anonymous: true });
const sql = (claims: Claims, text: string, values: unknown[] = []) =>
  withClaims(db.pool, claims, async (client) => (await client.query(text, values)).rows);

describe("visitor A (anonymous sign-in)", () => {
  const asA = () => visitor(() => a.visitorId);

  it("reads only their own conversation", async () => {
    expect((await sql(asA(), "select id from public.conversations")).map((r) => r.id)).toEqual([a.conversationId]);
  });

  it("reads every message of their own conversation, AI replies and agent messages included, and nothing else", async () => {
    const rows = await sql(asA(), "select sender_id, content from public.messages order by created_at, id");
    expect(rows.map((r) => r.content)).toEqual(["I am A", "AI answer to A", "Agent note to A"]);
  });

  it("writes in their own conversation as themselves", async () => {
    const rows = await sql(asA(),
      "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, true, 'hello') returning content",
      [a.conversationId, a.visitorId]);
    expect(rows).toEqual([{ content: "hello" }]);
  });

  it("starts a conversation as themselves, but not for someone else", async () => {
    await expect(sql(asA(), "insert into public.conversations (project_id, visitor_id) values ($1, $2) returning id", [projectId, a.visitorId]))
      .resolves.toHaveLength(1);
    await expect(sql(asA(), "insert into public.conversations (project_id, visitor_id) values ($1, $2)", [projectId, b.visitorId]))
      .rejects.toThrow('new row violates row-level security policy for table "conversations"');
  });

  it("cannot write in visitor B's conversation", async () => {
    await expect(sql(asA(), "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, true, 'intrude')", [b.conversationId, a.visitorId]))
      .rejects.toThrow('new row violates row-level security policy for table "messages"');
  });

  it("cannot forge an AI_BOT message", async () => {
    await expect(sql(asA(), "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, 'AI_BOT', false, 'fake AI')", [a.conversationId]))
      .rejects.toThrow('new row violates row-level security policy for table "messages"');
  });

  it("cannot forge a human agent message", async () => {
    await expect(sql(asA(), "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, 'agent-1', false, 'fake agent')", [a.conversationId]))
      .rejects.toThrow('new row violates row-level security policy for table "messages"');
  });

  it("cannot write as another visitor", async () => {
    await expect(sql(asA(), "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, true, 'as B')", [a.conversationId, b.visitorId]))
      .rejects.toThrow('new row violates row-level security policy for table "messages"');
  });

  it("cannot mark a message as an AI reply or backdate it", async () => {
    await expect(sql(asA(), "insert into public.messages (conversation_id, sender_id, from_customer, content, reply_to) values ($1, $2, true, 'x', $3)", [a.conversationId, a.visitorId, a.messageId]))
      .rejects.toThrow("permission denied for table messages");
    await expect(sql(asA(), "insert into public.messages (conversation_id, sender_id, from_customer, content, created_at) values ($1, $2, true, 'x', now() - interval '1 day')", [a.conversationId, a.visitorId]))
      .rejects.toThrow("permission denied for table messages");
  });

  it("cannot take a conversation over or set its last message", async () => {
    await expect(sql(asA(), "insert into public.conversations (project_id, visitor_id, handed_off_to) values ($1, $2, 'me')", [projectId, a.visitorId]))
      .rejects.toThrow("permission denied for table conversations");
  });

  it.each(["messages", "conversations"])("cannot update or delete %s", async (table) => {
    await expect(sql(asA(), `update public.${table} set created_at = now()`)).rejects.toThrow(`permission denied for table ${table}`);
    await expect(sql(asA(), `delete from public.${table}`)).rejects.toThrow(`permission denied for table ${table}`);
  });

  it("cannot read project settings or flip ai_enabled", async () => {
    await expect(sql(asA(), "select * from public.projects")).rejects.toThrow("permission denied for table projects");
    await expect(sql(asA(), "update public.projects set ai_enabled = true")).rejects.toThrow("permission denied for table projects");
  });

  it("cannot read the AI's job log or call the function's SQL API", async () => {
    await expect(sql(asA(), "select * from public.ai_reply_jobs")).rejects.toThrow("permission denied for table ai_reply_jobs");
    await expect(sql(asA(), "select public.ai_reply_context($1)", [a.messageId])).rejects.toThrow("permission denied for function ai_reply_context");
    await expect(sql(asA(), "select public.ai_post_reply($1, 'x')", [a.messageId])).rejects.toThrow("permission denied for function ai_post_reply");
  });
});

describe("visitor B", () => {
  it("reads only their own conversation and its messages", async () => {
    const asB = visitor(() => b.visitorId);
    expect((await sql(asB, "select id from public.conversations")).map((r) => r.id)).toEqual([b.conversationId]);
    expect((await sql(asB, "select content from public.messages")).map((r) => r.content)).toEqual(["I am B"]);
  });
});

describe("a permanent (non-anonymous) user", () => {
  it("is a visitor like any other: sees only their own conversations", async () => {
    const userId = await createVisitor(db.pool, { anonymous: false });
    const claims: Claims = { role: "authenticated", sub: userId, is_anonymous: false };
    expect(await sql(claims, "select id from public.conversations")).toEqual([]);
    expect(await sql(claims, "select id from public.messages")).toEqual([]);
  });
});

describe("anon (no sign-in)", () => {
  const anon: Claims = { role: "anon" };
  it.each(["projects", "conversations", "messages", "ai_reply_jobs"])("has no access to %s", async (table) => {
    await expect(sql(anon, `select * from public.${table}`)).rejects.toThrow(`permission denied for table ${table}`);
  });
  it("cannot write a message", async () => {
    await expect(sql(anon, "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, 'x', true, 'hi')", [a.conversationId]))
      .rejects.toThrow("permission denied for table messages");
  });
});

describe("service_role", () => {
  const service: Claims = { role: "service_role" };
  it("reads everything, across visitors", async () => {
    const rows = await sql(service, "select id from public.conversations where id = any($1)", [[a.conversationId, b.conversationId]]);
    expect(rows).toHaveLength(2);
    expect(await sql(service, "select id from public.projects where id = $1", [projectId])).toHaveLength(1);
  });
  it("updates and deletes", async () => {
    await expect(sql(service, "update public.projects set name = name where id = $1 returning id", [projectId])).resolves.toHaveLength(1);
    const extra = await startConversation(db.pool, projectId);
    await expect(sql(service, "delete from public.conversations where id = $1 returning id", [extra.conversationId])).resolves.toHaveLength(1);
  });
});
