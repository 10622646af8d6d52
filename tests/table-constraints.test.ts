// What the tables themselves refuse, constraint by constraint, at the edges of each range: the
// value just inside is accepted, the value just outside refused with the constraint's name. A
// constraint that disappears or drifts by one fails here, whatever else would have hidden it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentSays, createProject, createVisitor, startConversation, visitorSays } from "./helpers.ts";
import { startTestDatabase, type TestDatabase } from "./test-database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await startTestDatabase();
});
afterAll(() => db?.stop());

const setProject = (projectId: string, column: string, value: unknown) =>
  db.pool.query(`update public.projects set ${column} = $2 where id = $1`, [projectId, value]);

// [column, values accepted (the edges), values refused (just past them), what the refusal says]
const projectRules: [string, unknown[], unknown[], RegExp][] = [
  ["ai_history_limit", [1, 50], [0, 51], /projects_ai_history_limit_check/],
  ["ai_fallback_message", [null, "x", "f".repeat(4000)], ["", "f".repeat(4001)], /projects_ai_fallback_message_check/],
  ["ai_reply_delay_ms", [0, 10000], [-1, 10001], /projects_ai_reply_delay_ms_check/],
  ["visitor_messages_per_minute", [1, 10000], [0, 10001], /projects_visitor_messages_per_minute_check/],
  ["visitor_conversations_per_hour", [1, 10000], [0, 10001], /projects_visitor_conversations_per_hour_check/],
  ["ai_handover_message", [null, "h", "h".repeat(4000)], ["", "h".repeat(4001)], /projects_ai_handover_message_check/],
  ["ai_max_replies_per_conversation", [1, 100000], [0, 100001], /projects_ai_max_replies_per_conversation_check/],
  ["ai_daily_token_budget", [null, 1], [0, -5], /projects_ai_daily_token_budget_check/],
  ["ai_time_zone", ["UTC", "Europe/Paris"], ["Mars/Olympus_Mons"], /time zone "Mars\/Olympus_Mons" not recognized/],
  ["ai_max_prompt_tokens", [1000, 200000], [999, 200001], /projects_ai_max_prompt_tokens_check/],
  ["ai_max_completion_tokens", [16, 65536], [15, 65537], /projects_ai_max_completion_tokens_check/],
  ["ai_breaker_threshold", [1, 100], [0, 101], /projects_ai_breaker_threshold_check/],
  ["ai_breaker_cool_off_seconds", [10, 86400], [9, 86401], /projects_ai_breaker_cool_off_seconds_check/],
  ["agent_online_window_seconds", [10, 3600], [9, 3601], /projects_agent_online_window_seconds_check/],
  ["opening_days", [[1, 7], [1, 2, 3, 4, 5, 6, 7]], [[0], [8], [1, 8]], /projects_opening_days_check/],
  ["ai_mode", ["always", "when_no_agent_online"], ["sometimes", "ALWAYS"], /projects_ai_mode_check/],
  ["ai_knowledge_max_tokens", [0, 100000], [-1, 100001], /projects_ai_knowledge_max_tokens_check/],
];

describe("projects' settings", () => {
  it.each(projectRules)("%s: accepts %j, refuses %j", async (column, accepted, refused, error) => {
    const projectId = await createProject(db.pool);
    for (const value of accepted) await setProject(projectId, column, value);
    for (const value of refused) await expect(setProject(projectId, column, value), `${column} = ${JSON.stringify(value)}`).rejects.toThrow(error);
  });

  it("has the defaults an admin reads in the Table Editor", async () => {
    const { rows: [project] } = await db.pool.query(
      `insert into public.projects (name) values ('defaults') returning ai_enabled, ai_history_limit, ai_reply_delay_ms, ai_fallback_message,
         ai_handover_message, visitor_messages_per_minute, visitor_conversations_per_hour, ai_max_replies_per_conversation,
         ai_daily_token_budget, ai_time_zone, ai_max_prompt_tokens, ai_max_completion_tokens, ai_breaker_threshold,
         ai_breaker_cool_off_seconds, agent_online_window_seconds, opening_days, ai_mode, ai_stream_replies, allowed_origins,
         knowledge_ts_config::text, ai_knowledge_max_tokens, ai_answer_only_from_knowledge`,
    );
    expect(project).toEqual({
      ai_enabled: false, ai_history_limit: 10, ai_reply_delay_ms: 600, ai_fallback_message: null,
      ai_handover_message: "I'm handing you over to a member of our team; they will reply here as soon as they can.",
      visitor_messages_per_minute: 10, visitor_conversations_per_hour: 3, ai_max_replies_per_conversation: 30,
      ai_daily_token_budget: "2000000", ai_time_zone: "UTC", ai_max_prompt_tokens: 4000, ai_max_completion_tokens: 1024,
      ai_breaker_threshold: 3, ai_breaker_cool_off_seconds: 600, agent_online_window_seconds: 60, opening_days: [1, 2, 3, 4, 5, 6, 7],
      ai_mode: "always", ai_stream_replies: true, allowed_origins: [],
      knowledge_ts_config: "english", ai_knowledge_max_tokens: 2000, ai_answer_only_from_knowledge: false,
    });
  });

  it("takes opening hours with both ends or neither", async () => {
    const projectId = await createProject(db.pool);
    await db.pool.query("update public.projects set opening_hours_start = '09:00', opening_hours_end = '17:00' where id = $1", [projectId]);
    await expect(db.pool.query("update public.projects set opening_hours_end = null where id = $1", [projectId]))
      .rejects.toThrow(/projects_opening_hours_both_or_neither/);
    await expect(db.pool.query("update public.projects set opening_hours_start = null where id = $1", [projectId]))
      .rejects.toThrow(/projects_opening_hours_both_or_neither/);
    await db.pool.query("update public.projects set opening_hours_start = null, opening_hours_end = null where id = $1", [projectId]);
  });
});

describe("messages", () => {
  async function conversation() {
    const projectId = await createProject(db.pool, { ai_enabled: false });
    return startConversation(db.pool, projectId);
  }
  const insert = (conversationId: string, sender: string, fromCustomer: boolean, content: string, replyTo: string | null = null) =>
    db.pool.query(
      "insert into public.messages (conversation_id, sender_id, from_customer, content, reply_to) values ($1, $2, $3, $4, $5) returning id",
      [conversationId, sender, fromCustomer, content, replyTo],
    );

  it("bound a message's text to 1..4,000 characters and its sender to 1..200", async () => {
    const { conversationId } = await conversation();
    await insert(conversationId, "a", false, "c".repeat(4000));
    await insert(conversationId, "s".repeat(200), false, "c");
    await expect(insert(conversationId, "agent", false, "")).rejects.toThrow(/messages_content_length/);
    await expect(insert(conversationId, "agent", false, "c".repeat(4001))).rejects.toThrow(/messages_content_length/);
    await expect(insert(conversationId, "", false, "c")).rejects.toThrow(/messages_sender_id_check/);
    await expect(insert(conversationId, "s".repeat(201), false, "c")).rejects.toThrow(/messages_sender_id_check/);
  });

  it("let only an AI_BOT reply answer a message, and never a visitor pass as the AI", async () => {
    const { visitorId, conversationId } = await conversation();
    const asked = await visitorSays(db.pool, visitorId, conversationId, "question");
    await expect(insert(conversationId, "agent-1", false, "agent answer", asked)).rejects.toThrow(/messages_only_ai_replies_answer/);
    await expect(insert(conversationId, visitorId, true, "self answer", asked)).rejects.toThrow(/messages_only_ai_replies_answer/);
    await expect(insert(conversationId, "AI_BOT", true, "visitor as the AI")).rejects.toThrow(/messages_visitors_are_not_the_ai/);
    await insert(conversationId, "AI_BOT", false, "the answer", asked);
  });

  it("hold at most one AI reply per visitor message, whoever inserts it (no row lock involved)", async () => {
    const { visitorId, conversationId } = await conversation();
    const asked = await visitorSays(db.pool, visitorId, conversationId, "question");
    await insert(conversationId, "AI_BOT", false, "first", asked);
    await expect(insert(conversationId, "AI_BOT", false, "second", asked)).rejects.toThrow(/messages_one_ai_reply_per_message/);
    // Messages that answer nothing are not limited.
    await insert(conversationId, "AI_BOT", false, "hand-over text");
    await insert(conversationId, "AI_BOT", false, "hand-over text again");
  });
});

describe("the AI's records", () => {
  it("take only the outcomes the pipeline knows", async () => {
    const projectId = await createProject(db.pool);
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    const messageId = await visitorSays(db.pool, visitorId, conversationId, "hi");
    const outcomes = ["answered", "fallback", "ai_disabled", "handed_off", "superseded", "failed", "awaiting_human", "reply_cap", "daily_budget", "paused", "agent_online", "handed_over"];
    for (const outcome of outcomes) await db.pool.query("update public.ai_reply_jobs set outcome = $2 where message_id = $1", [messageId, outcome]);
    await expect(db.pool.query("update public.ai_reply_jobs set outcome = 'done' where message_id = $1", [messageId]))
      .rejects.toThrow(/ai_reply_jobs_outcome_check/);
  });

  it("count visitors' inserts only as messages or conversations", async () => {
    const visitorId = await createVisitor(db.pool);
    const count = (kind: string) =>
      db.pool.query("insert into private.visitor_rate_counters (visitor_id, kind, window_start, count) values ($1, $2, now(), 1)", [visitorId, kind]);
    await count("message");
    await count("conversation");
    await expect(count("reaction")).rejects.toThrow(/visitor_rate_counters_kind_check/);
  });
});

describe("project members", () => {
  it("are agents or admins, signed-in users only, once per project", async () => {
    const projectId = await createProject(db.pool);
    const agentId = await createVisitor(db.pool, { anonymous: false });
    const add = (userId: string, role?: string) =>
      db.pool.query(`insert into public.project_members (project_id, user_id${role ? ", role" : ""}) values ($1, $2${role ? ", $3" : ""})`, role ? [projectId, userId, role] : [projectId, userId]);
    await expect(add(agentId, "owner")).rejects.toThrow(/project_members_role_check/);
    await add(agentId);
    const { rows } = await db.pool.query("select role from public.project_members where user_id = $1", [agentId]);
    expect(rows).toEqual([{ role: "agent" }]);
    await expect(add(agentId, "admin")).rejects.toThrow(/project_members_pkey/);
    await expect(add(await createVisitor(db.pool), "agent")).rejects.toThrow("An anonymous user (a visitor) cannot be a project member");
    // Nor by moving a membership onto a visitor afterwards.
    await expect(db.pool.query("update public.project_members set user_id = $2 where user_id = $1", [agentId, await createVisitor(db.pool)]))
      .rejects.toThrow("An anonymous user (a visitor) cannot be a project member");
  });
});

describe("conversations' bookkeeping (on_message_inserted)", () => {
  it("moves last_message forward only, and lets an agent take over even with an older timestamp; the AI and visitors never take over", async () => {
    const projectId = await createProject(db.pool, { ai_enabled: false });
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    const state = async () => (await db.pool.query("select last_message, handed_off_to, awaiting_human_since is not null as awaiting from public.conversations where id = $1", [conversationId])).rows[0];
    await visitorSays(db.pool, visitorId, conversationId, "now");
    await db.pool.query("insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, 'AI_BOT', false, 'ai text')", [conversationId]);
    expect(await state()).toEqual({ last_message: "ai text", handed_off_to: null, awaiting: false });
    await db.pool.query("update public.conversations set awaiting_human_since = now() where id = $1", [conversationId]);
    await visitorSays(db.pool, visitorId, conversationId, "still waiting");
    expect(await state()).toEqual({ last_message: "still waiting", handed_off_to: null, awaiting: true });
    // An agent message stamped earlier than the latest: last_message stays, the takeover happens.
    await db.pool.query(
      "insert into public.messages (conversation_id, sender_id, from_customer, content, created_at) values ($1, 'agent-late', false, 'older', now() - interval '1 hour')",
      [conversationId],
    );
    expect(await state()).toEqual({ last_message: "still waiting", handed_off_to: "agent-late", awaiting: false });
    // The first agent keeps it.
    await agentSays(db.pool, conversationId, "me too", "agent-2");
    expect(await state()).toMatchObject({ last_message: "me too", handed_off_to: "agent-late" });
  });

  it("clears the wait for a person on a hand-back only (handed_off_to from someone to no one)", async () => {
    const projectId = await createProject(db.pool);
    const { conversationId } = await startConversation(db.pool, projectId);
    const awaiting = async () => (await db.pool.query("select awaiting_human_reason from public.conversations where id = $1", [conversationId])).rows[0].awaiting_human_reason;
    await db.pool.query("update public.conversations set awaiting_human_since = now(), awaiting_human_reason = 'reply_cap' where id = $1", [conversationId]);
    // Not a hand-back: handed_off_to was already null.
    await db.pool.query("update public.conversations set handed_off_to = null where id = $1", [conversationId]);
    expect(await awaiting()).toBe("reply_cap");
    await db.pool.query("update public.conversations set handed_off_to = 'agent-1', awaiting_human_since = now(), awaiting_human_reason = 'again' where id = $1", [conversationId]);
    await db.pool.query("update public.conversations set handed_off_to = null where id = $1", [conversationId]);
    expect(await awaiting()).toBeNull();
  });
});

describe("knowledge articles", () => {
  it("bound title, URL, text and source path, one article per source path and project, and stamp each edit", async () => {
    const projectId = await createProject(db.pool);
    const add = (fields: Record<string, unknown>) => {
      const row = { project_id: projectId, title: "t", content: "c", ...fields };
      const columns = Object.keys(row);
      return db.pool.query(
        `insert into public.knowledge_articles (${columns.join(", ")}) values (${columns.map((_, i) => `$${i + 1}`).join(", ")}) returning id, updated_at`,
        Object.values(row),
      );
    };
    await add({ title: "t".repeat(500), url: "https://shop.example/a", source_path: "p".repeat(1000) });
    await add({ url: "http://shop.example/" + "u".repeat(1980) });
    await expect(add({ title: "" })).rejects.toThrow(/knowledge_articles_title_check/);
    await expect(add({ title: "t".repeat(501) })).rejects.toThrow(/knowledge_articles_title_check/);
    await expect(add({ url: "javascript:alert(1)" })).rejects.toThrow(/knowledge_articles_url_check/);
    await expect(add({ url: "https://shop.example/" + "u".repeat(1990) })).rejects.toThrow(/knowledge_articles_url_check/);
    await expect(add({ content: "" })).rejects.toThrow(/knowledge_articles_content_check/);
    await expect(add({ source_path: "" })).rejects.toThrow(/knowledge_articles_source_path_check/);
    await expect(add({ source_path: "p".repeat(1001) })).rejects.toThrow(/knowledge_articles_source_path_check/);
    const { rows: [article] } = await add({ source_path: "faq.md" });
    await expect(add({ source_path: "faq.md" })).rejects.toThrow(/knowledge_articles_one_per_source/);
    await add({ source_path: "faq.md", project_id: await createProject(db.pool) });
    await add({}); // hand-written articles (no source path) are not limited
    await add({});
    const { rows: [edited] } = await db.pool.query("update public.knowledge_articles set content = 'new' where id = $1 returning updated_at", [article.id]);
    expect(edited.updated_at.getTime()).toBeGreaterThan(article.updated_at.getTime());
  });
});
