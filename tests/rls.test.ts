import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Claims, withClaims } from "../local/visitor.ts";
import { agentSays, createProject, createVisitor, startConversation, visitorSays } from "./helpers.ts";
import { startTestDatabase, type TestDatabase } from "./test-database.ts";

let db: TestDatabase;
let projectId: string;
let a: { visitorId: string; conversationId: string; messageId: string };
let b: { visitorId: string; conversationId: string; messageId: string };
// Project B, whose data agents and admins of project A must never reach.
let projectB: string;
let c: { visitorId: string; conversationId: string; messageId: string };
let agentA: string;
let adminA: string;

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

  projectB = await createProject(db.pool, { ai_enabled: false });
  const conversationC = await startConversation(db.pool, projectB);
  c = { ...conversationC, messageId: await visitorSays(db.pool, conversationC.visitorId, conversationC.conversationId, "I am C, in project B") };
  const memberOf = async (project: string, role: "agent" | "admin") => {
    const userId = await createVisitor(db.pool, { anonymous: false });
    await db.pool.query("insert into public.project_members (project_id, user_id, role) values ($1, $2, $3)", [project, userId, role]);
    return userId;
  };
  agentA = await memberOf(projectId, "agent");
  adminA = await memberOf(projectId, "admin");
  // B's own agent, whose membership row A's members must not see.
  await memberOf(projectB, "agent");
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

  it("cannot choose the id of a message or a conversation (ids come from the defaults)", async () => {
    await expect(sql(asA(), "insert into public.messages (id, conversation_id, sender_id, from_customer, content) values (gen_random_uuid(), $1, $2, true, 'x')", [a.conversationId, a.visitorId]))
      .rejects.toThrow("permission denied for table messages");
    await expect(sql(asA(), "insert into public.conversations (id, project_id, visitor_id) values (gen_random_uuid(), $1, $2)", [projectId, a.visitorId]))
      .rejects.toThrow("permission denied for table conversations");
  });

  it("cannot take a conversation over, mark it as awaiting a person, or set its last message", async () => {
    await expect(sql(asA(), "insert into public.conversations (project_id, visitor_id, awaiting_human_since) values ($1, $2, now())", [projectId, a.visitorId]))
      .rejects.toThrow("permission denied for table conversations");
    await expect(sql(asA(), "insert into public.conversations (project_id, visitor_id, handed_off_to) values ($1, $2, 'me')", [projectId, a.visitorId]))
      .rejects.toThrow("permission denied for table conversations");
  });

  it.each(["messages", "conversations"])("cannot update or delete %s", async (table) => {
    await expect(sql(asA(), `update public.${table} set created_at = now()`)).rejects.toThrow(`permission denied for table ${table}`);
    await expect(sql(asA(), `delete from public.${table}`)).rejects.toThrow(`permission denied for table ${table}`);
  });

  it("reads no project settings and cannot flip ai_enabled", async () => {
    expect(await sql(asA(), "select * from public.projects")).toEqual([]);
    expect(await sql(asA(), "update public.projects set ai_enabled = true returning id")).toEqual([]);
  });

  it("cannot read the AI's job log or usage, the private tables, or call the function's SQL API", async () => {
    await expect(sql(asA(), "select * from public.ai_reply_jobs")).rejects.toThrow("permission denied for table ai_reply_jobs");
    await expect(sql(asA(), "select * from public.ai_usage_daily")).rejects.toThrow("permission denied for view ai_usage_daily");
    await expect(sql(asA(), "select * from private.visitor_rate_counters")).rejects.toThrow("permission denied for table visitor_rate_counters");
    await expect(sql(asA(), "select private.hand_over_to_human($1, 'x')", [a.conversationId])).rejects.toThrow("permission denied for function hand_over_to_human");
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

describe("agent of project A (a signed-in member)", () => {
  const asAgent = (): Claims => ({ role: "authenticated", sub: agentA, is_anonymous: false });

  it("reads project A's conversations and messages, and none of project B's", async () => {
    const conversations = (await sql(asAgent(), "select id, project_id from public.conversations")).map((r) => r.project_id);
    expect(conversations.length).toBeGreaterThanOrEqual(2);
    expect(new Set(conversations)).toEqual(new Set([projectId]));
    const contents = (await sql(asAgent(), "select content from public.messages")).map((r) => r.content);
    expect(contents).toEqual(expect.arrayContaining(["I am A", "I am B", "AI answer to A"]));
    expect(contents).not.toContain("I am C, in project B");
  });

  it("reads project A's row and its memberships, and none of project B's", async () => {
    expect((await sql(asAgent(), "select id from public.projects")).map((r) => r.id)).toEqual([projectId]);
    const members = await sql(asAgent(), "select user_id, role from public.project_members order by role");
    expect(members).toEqual([{ user_id: adminA, role: "admin" }, { user_id: agentA, role: "agent" }]);
  });

  it("writes an agent message in project A's conversations as themselves, which takes the conversation over", async () => {
    const { conversationId } = await startConversation(db.pool, projectId);
    await sql(asAgent(), "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, false, 'Hello, I am an agent')", [conversationId, agentA]);
    const { rows: [conversation] } = await db.pool.query("select handed_off_to from public.conversations where id = $1", [conversationId]);
    expect(conversation).toEqual({ handed_off_to: agentA });
  });

  it("cannot write in project B's conversations", async () => {
    await expect(sql(asAgent(), "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, false, 'intrude')", [c.conversationId, agentA]))
      .rejects.toThrow('new row violates row-level security policy for table "messages"');
  });

  it("cannot write as another agent, as the AI, or as the visitor", async () => {
    for (const [sender, fromCustomer] of [[adminA, false], ["AI_BOT", false], [a.visitorId, true], [agentA, true]] as const) {
      await expect(sql(asAgent(), "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, $3, 'forged')", [a.conversationId, sender, fromCustomer]))
        .rejects.toThrow('new row violates row-level security policy for table "messages"');
    }
  });

  it("changes no project settings and no conversation directly (hand_back_to_ai does that)", async () => {
    expect(await sql(asAgent(), "update public.projects set ai_enabled = true returning id")).toEqual([]);
    await expect(sql(asAgent(), "update public.conversations set handed_off_to = null")).rejects.toThrow("permission denied for table conversations");
  });

  it("sees project A's conversations in the inbox, and none of project B's", async () => {
    const rows = await sql(asAgent(), "select project_id from public.agent_inbox");
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(new Set(rows.map((r) => r.project_id))).toEqual(new Set([projectId]));
  });
});

describe("admin of project A", () => {
  const asAdmin = (): Claims => ({ role: "authenticated", sub: adminA, is_anonymous: false });

  it("changes project A's AI settings, and not project B's", async () => {
    expect(await sql(asAdmin(), "update public.projects set ai_mode = 'when_no_agent_online', ai_system_prompt = 'Be brief.' returning id")).toEqual([{ id: projectId }]);
    const { rows } = await db.pool.query("select id, ai_mode from public.projects where id = any($1) order by id = $2 desc", [[projectId, projectB], projectId]);
    expect(rows).toEqual([{ id: projectId, ai_mode: "when_no_agent_online" }, { id: projectB, ai_mode: "always" }]);
    await db.pool.query("update public.projects set ai_mode = 'always' where id = $1", [projectId]);
  });

  it("cannot write what the circuit breaker or the database owner writes", async () => {
    await expect(sql(asAdmin(), "update public.projects set ai_paused_reason = 'x'")).rejects.toThrow("permission denied for table projects");
    await expect(sql(asAdmin(), "update public.projects set id = gen_random_uuid()")).rejects.toThrow("permission denied for table projects");
    await expect(sql(asAdmin(), "insert into public.project_members (project_id, user_id) values ($1, $2)", [projectId, a.visitorId]))
      .rejects.toThrow("permission denied for table project_members");
  });
});

describe("anon (no sign-in)", () => {
  const anon: Claims = { role: "anon" };
  it.each(["projects", "conversations", "messages", "ai_reply_jobs", "project_members"])("has no access to %s", async (table) => {
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
  it("hands a conversation back, but changes no settings and deletes nothing (least privilege)", async () => {
    await expect(sql(service, "update public.conversations set handed_off_to = null where id = $1 returning id", [a.conversationId])).resolves.toHaveLength(1);
    await expect(sql(service, "update public.projects set name = name where id = $1 returning id", [projectId]))
      .rejects.toThrow("permission denied for table projects");
    const extra = await startConversation(db.pool, projectId);
    await expect(sql(service, "delete from public.conversations where id = $1 returning id", [extra.conversationId]))
      .rejects.toThrow("permission denied for table conversations");
  });
});

describe("the full matrix: every actor, table and operation", () => {
  type Actor = "anon" | "visitor A" | "visitor B" | "permanent user" | "service_role" | "agent of A" | "admin of A";
  type Table = "projects" | "conversations" | "messages" | "ai_reply_jobs" | "project_members";
  type Operation = "select" | "insert" | "update" | "delete";
  type Verdict = "permission denied" | "own rows only" | "project A rows only" | "no rows" | "every row" | "allowed";
  const isMember = (actor: Actor) => actor === "agent of A" || actor === "admin of A";

  let permanent: { visitorId: string; conversationId: string };
  beforeAll(async () => {
    const userId = await createVisitor(db.pool, { anonymous: false });
    const conversationId = await withClaims(db.pool, { role: "authenticated", sub: userId, is_anonymous: false }, async (client) =>
      (await client.query("insert into public.conversations (project_id, visitor_id) values ($1, $2) returning id", [projectId, userId])).rows[0].id
    );
    permanent = { visitorId: userId, conversationId };
    await withClaims(db.pool, { role: "authenticated", sub: userId, is_anonymous: false }, (client) =>
      client.query("insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, true, 'I have an account')", [conversationId, userId])
    );
  });

  const claimsOf = (actor: Actor): Claims => {
    if (actor === "anon") return { role: "anon" };
    if (actor === "service_role") return { role: "service_role" };
    if (isMember(actor)) return { role: "authenticated", sub: actor === "agent of A" ? agentA : adminA, is_anonymous: false };
    const who = actor === "visitor A" ? a : actor === "visitor B" ? b : permanent;
    return { role: "authenticated", sub: who.visitorId, is_anonymous: actor !== "permanent user" };
  };
  const ownConversation = (actor: Actor) => (actor === "visitor A" ? a : actor === "visitor B" ? b : permanent).conversationId;
  const key = (table: Table) => (table === "ai_reply_jobs" ? "message_id" : table === "project_members" ? "user_id" : "id");
  const updatable: Record<Table, string> = { projects: "name", conversations: "handed_off_to", messages: "content", ai_reply_jobs: "claimed_until", project_members: "role" };

  /** A fresh row to update or delete, made by the superuser; for jobs, a fresh message to attach one to. */
  async function throwaway(table: Table): Promise<string> {
    const one = async (sql: string, values: unknown[] = []) => (await db.pool.query(sql, values)).rows[0].id as string;
    const message = () => one("insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, true, 'throwaway') returning id", [a.conversationId, a.visitorId]);
    if (table === "projects") return one("insert into public.projects (name) values ('throwaway') returning id");
    if (table === "conversations") return one("insert into public.conversations (project_id) values ($1) returning id", [projectId]);
    if (table === "messages") return message();
    if (table === "project_members") {
      const userId = await createVisitor(db.pool, { anonymous: false });
      await db.pool.query("insert into public.project_members (project_id, user_id) values ($1, $2)", [projectId, userId]);
      return userId;
    }
    const messageId = await message();
    await db.pool.query("insert into public.ai_reply_jobs (message_id, conversation_id) values ($1, $2)", [messageId, a.conversationId]);
    return messageId;
  }

  async function attempt(actor: Actor, table: Table, operation: Operation): Promise<{ rows: { id: string }[] }> {
    const claims = claimsOf(actor);
    const me = claims.sub ?? a.visitorId;
    const conversation = actor === "anon" || actor === "service_role" || isMember(actor) ? a.conversationId : ownConversation(actor);
    // Members update their own project A (a throwaway project is nobody's).
    const target = operation === "update" && table === "projects" && isMember(actor)
      ? projectId
      : operation === "update" || operation === "delete" ? await throwaway(table) : "";
    const freshMessage = table === "ai_reply_jobs" && operation === "insert"
      ? (await db.pool.query("insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, true, 'for a job') returning id", [a.conversationId, a.visitorId])).rows[0].id
      : "";
    const statements: Record<Operation, string> = {
      select: `select ${key(table)}::text as id from public.${table}`,
      insert: {
        projects: "insert into public.projects (name) values ('matrix') returning id::text",
        conversations: `insert into public.conversations (project_id, visitor_id) values ('${projectId}', '${me}') returning id::text`,
        // Members write agent messages; everyone else as a visitor.
        messages: `insert into public.messages (conversation_id, sender_id, from_customer, content) values ('${conversation}', '${me}', ${!isMember(actor)}, 'matrix') returning id::text`,
        ai_reply_jobs: `insert into public.ai_reply_jobs (message_id, conversation_id) values ('${freshMessage}', '${a.conversationId}') returning message_id::text as id`,
        project_members: `insert into public.project_members (project_id, user_id) values ('${projectId}', '${me}') returning user_id::text as id`,
      }[table],
      // The one column any role may update, if any: service_role's grants (handing back, claims).
      update: `update public.${table} set ${updatable[table]} = ${updatable[table]} where ${key(table)} = '${target}' returning ${key(table)}::text as id`,
      delete: `delete from public.${table} where ${key(table)} = '${target}' returning ${key(table)}::text as id`,
    };
    return { rows: await withClaims(db.pool, claims, async (client) => (await client.query(statements[operation])).rows) };
  }

  const visitorCells = (operation: Operation): [Table, Verdict][] => [
    // Members read their projects (and admins change them): visitors, authenticated too, see none.
    ["projects", operation === "select" || operation === "update" ? "no rows" : "permission denied"],
    ["conversations", operation === "select" ? "own rows only" : operation === "insert" ? "allowed" : "permission denied"],
    ["messages", operation === "select" ? "own rows only" : operation === "insert" ? "allowed" : "permission denied"],
    ["ai_reply_jobs", "permission denied"],
    ["project_members", operation === "select" ? "no rows" : "permission denied"],
  ];
  const memberCells = (actor: Actor, operation: Operation): [Table, Verdict][] => [
    ["projects", operation === "select" ? "project A rows only" : operation === "update" ? (actor === "admin of A" ? "allowed" : "no rows") : "permission denied"],
    // Like any signed-in user, a member may start a conversation as themselves.
    ["conversations", operation === "select" ? "project A rows only" : operation === "insert" ? "allowed" : "permission denied"],
    ["messages", operation === "select" ? "project A rows only" : operation === "insert" ? "allowed" : "permission denied"],
    ["ai_reply_jobs", "permission denied"],
    ["project_members", operation === "select" ? "project A rows only" : "permission denied"],
  ];
  const operations: Operation[] = ["select", "insert", "update", "delete"];
  const tables: Table[] = ["projects", "conversations", "messages", "ai_reply_jobs", "project_members"];
  const cells: [Actor, Table, Operation, Verdict][] = [
    ...tables.flatMap((table) => operations.map((op): [Actor, Table, Operation, Verdict] => ["anon", table, op, "permission denied"])),
    ...(["visitor A", "visitor B", "permanent user"] as const).flatMap((actor) =>
      operations.flatMap((op) => visitorCells(op).map(([table, verdict]): [Actor, Table, Operation, Verdict] => [actor, table, op, verdict]))
    ),
    ...(["agent of A", "admin of A"] as const).flatMap((actor) =>
      operations.flatMap((op) => memberCells(actor, op).map(([table, verdict]): [Actor, Table, Operation, Verdict] => [actor, table, op, verdict]))
    ),
    // The ai-responder function's needs (20261126000100_explicit_data_api_grants.sql), nothing more.
    ...([
      ["projects", "every row", "permission denied", "permission denied", "permission denied"],
      ["conversations", "every row", "permission denied", "allowed", "permission denied"],
      ["messages", "every row", "allowed", "permission denied", "permission denied"],
      ["ai_reply_jobs", "every row", "allowed", "allowed", "permission denied"],
      // Presence is read through private.agents_online(), not the table.
      ["project_members", "permission denied", "permission denied", "permission denied", "permission denied"],
    ] as const).flatMap(([table, ...verdicts]) =>
      operations.map((op, i): [Actor, Table, Operation, Verdict] => ["service_role", table, op, verdicts[i]!])
    ),
  ];

  it.each(cells)("%s / %s / %s: %s", async (actor, table, operation, verdict) => {
    if (verdict === "permission denied") {
      await expect(attempt(actor, table, operation)).rejects.toThrow(`permission denied for table ${table}`);
      return;
    }
    const { rows } = await attempt(actor, table, operation);
    if (verdict === "allowed") return expect(rows).toHaveLength(1);
    if (verdict === "no rows") return expect(rows).toEqual([]);
    if (verdict === "project A rows only") {
      const { rows: projectRows } = await db.pool.query({
        projects: "select id::text from public.projects where id = $1",
        conversations: "select id::text from public.conversations where project_id = $1",
        messages: "select m.id::text from public.messages m join public.conversations c on c.id = m.conversation_id where c.project_id = $1",
        project_members: "select user_id::text as id from public.project_members where project_id = $1",
        ai_reply_jobs: "select null where false",
      }[table], [projectId]);
      expect(rows.map((r) => r.id).sort()).toEqual(projectRows.map((r) => r.id).sort());
      return expect(rows.length).toBeGreaterThan(0);
    }
    const { rows: all } = await db.pool.query(`select ${key(table)}::text as id from public.${table}`);
    if (verdict === "every row") return expect(rows.map((r) => r.id).sort()).toEqual(all.map((r) => r.id).sort());
    // own rows only: exactly the rows of this actor's own conversations
    const own = table === "conversations"
      ? await db.pool.query("select id::text from public.conversations where visitor_id = $1", [claimsOf(actor).sub])
      : await db.pool.query("select m.id::text from public.messages m join public.conversations c on c.id = m.conversation_id where c.visitor_id = $1", [claimsOf(actor).sub]);
    expect(rows.map((r) => r.id).sort()).toEqual(own.rows.map((r) => r.id).sort());
    expect(rows.length).toBeGreaterThan(0);
  });
});
