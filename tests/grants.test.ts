// The whole grant matrix of the project's schemas, compared to what the migrations mean to
// grant: hosted Supabase grants nothing by default any more (changelog 45329), so a grant lost
// from a migration breaks the product there, and a grant added widens what a key can do.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grantMatrix } from "./grant-matrix.ts";
import { startTestDatabase, type TestDatabase } from "./test-database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await startTestDatabase();
});
afterAll(async () => {
  await db?.stop();
});

/** Every privilege anyone but the owner holds in public and private (tests/grant-matrix.ts). */
const expected = [
  "column public.ai_reply_jobs.claim_token: service_role INSERT",
  "column public.ai_reply_jobs.claim_token: service_role UPDATE",
  "column public.ai_reply_jobs.claimed_until: service_role INSERT",
  "column public.ai_reply_jobs.claimed_until: service_role UPDATE",
  "column public.ai_reply_jobs.completion_tokens: service_role UPDATE",
  "column public.ai_reply_jobs.conversation_id: service_role INSERT",
  "column public.ai_reply_jobs.error: service_role UPDATE",
  "column public.ai_reply_jobs.finished_at: service_role UPDATE",
  "column public.ai_reply_jobs.knowledge_passage_ids: service_role UPDATE",
  "column public.ai_reply_jobs.last_dispatched_at: service_role INSERT",
  "column public.ai_reply_jobs.llm_latency_ms: service_role UPDATE",
  "column public.ai_reply_jobs.message_id: service_role INSERT",
  "column public.ai_reply_jobs.model: service_role UPDATE",
  "column public.ai_reply_jobs.outcome: service_role UPDATE",
  "column public.ai_reply_jobs.prompt_tokens: service_role UPDATE",
  "column public.ai_reply_jobs.released_at: service_role UPDATE",
  "column public.ai_reply_jobs.truncated: service_role UPDATE",
  "column public.conversations.handed_off_to: service_role UPDATE",
  "column public.conversations.project_id: authenticated INSERT",
  "column public.conversations.visitor_id: authenticated INSERT",
  "column public.knowledge_articles.content: service_role INSERT",
  "column public.knowledge_articles.content: service_role SELECT",
  "column public.knowledge_articles.content: service_role UPDATE",
  "column public.knowledge_articles.id: service_role SELECT",
  "column public.knowledge_articles.project_id: service_role INSERT",
  "column public.knowledge_articles.project_id: service_role SELECT",
  "column public.knowledge_articles.source_path: service_role INSERT",
  "column public.knowledge_articles.source_path: service_role SELECT",
  "column public.knowledge_articles.title: service_role INSERT",
  "column public.knowledge_articles.title: service_role SELECT",
  "column public.knowledge_articles.title: service_role UPDATE",
  "column public.knowledge_articles.url: service_role INSERT",
  "column public.knowledge_articles.url: service_role SELECT",
  "column public.knowledge_articles.url: service_role UPDATE",
  "column public.messages.content: authenticated INSERT",
  "column public.messages.content: service_role INSERT",
  "column public.messages.conversation_id: authenticated INSERT",
  "column public.messages.conversation_id: service_role INSERT",
  "column public.messages.from_customer: authenticated INSERT",
  "column public.messages.from_customer: service_role INSERT",
  "column public.messages.reply_to: service_role INSERT",
  "column public.messages.sender_id: authenticated INSERT",
  "column public.messages.sender_id: service_role INSERT",
  "column public.projects.agent_online_window_seconds: authenticated UPDATE",
  "column public.projects.ai_answer_only_from_knowledge: authenticated UPDATE",
  "column public.projects.ai_breaker_cool_off_seconds: authenticated UPDATE",
  "column public.projects.ai_breaker_threshold: authenticated UPDATE",
  "column public.projects.ai_daily_token_budget: authenticated UPDATE",
  "column public.projects.ai_enabled: authenticated UPDATE",
  "column public.projects.ai_fallback_message: authenticated UPDATE",
  "column public.projects.ai_handover_message: authenticated UPDATE",
  "column public.projects.ai_history_limit: authenticated UPDATE",
  "column public.projects.ai_knowledge_max_tokens: authenticated UPDATE",
  "column public.projects.ai_max_completion_tokens: authenticated UPDATE",
  "column public.projects.ai_max_prompt_tokens: authenticated UPDATE",
  "column public.projects.ai_max_replies_per_conversation: authenticated UPDATE",
  "column public.projects.ai_mode: authenticated UPDATE",
  "column public.projects.ai_model: authenticated UPDATE",
  "column public.projects.ai_paused_until: authenticated UPDATE",
  "column public.projects.ai_reply_delay_ms: authenticated UPDATE",
  "column public.projects.ai_stream_replies: authenticated UPDATE",
  "column public.projects.ai_system_prompt: authenticated UPDATE",
  "column public.projects.ai_time_zone: authenticated UPDATE",
  "column public.projects.allowed_origins: authenticated UPDATE",
  "column public.projects.knowledge_ts_config: authenticated UPDATE",
  "column public.projects.name: authenticated UPDATE",
  "column public.projects.opening_days: authenticated UPDATE",
  "column public.projects.opening_hours_end: authenticated UPDATE",
  "column public.projects.opening_hours_start: authenticated UPDATE",
  "column public.projects.visitor_conversations_per_hour: authenticated UPDATE",
  "column public.projects.visitor_messages_per_minute: authenticated UPDATE",
  "function private.agents_online(project uuid): service_role EXECUTE",
  "function private.ai_reply_skip_reason(message messages): service_role EXECUTE",
  "function private.ai_spending_stop(project projects): service_role EXECUTE",
  "function private.ai_steps_aside(project projects): service_role EXECUTE",
  "function private.cut_to_bytes(content text, max_bytes integer): service_role EXECUTE",
  "function private.hand_over_to_human(conversation uuid, reason text, in_reply_to uuid): service_role EXECUTE",
  "function private.has_newer_visitor_message(message messages): service_role EXECUTE",
  "function private.knowledge_source_bytes(title text, url text, content text): service_role EXECUTE",
  "function private.member_conversation_ids(): authenticated EXECUTE",
  "function private.member_project_ids(role text): authenticated EXECUTE",
  "function private.project_accepts_origin(project uuid): authenticated EXECUTE",
  "function private.prompt_overhead_bytes(): service_role EXECUTE",
  "function private.record_ai_usage(project uuid, prompt_tokens integer, completion_tokens integer, is_fallback boolean, error text, failure_is_permanent boolean): service_role EXECUTE",
  "function private.retrieve_knowledge(project_id uuid, query_text text, budget_bytes integer): service_role EXECUTE",
  "function private.visitor_owns_conversation_topic(topic text): authenticated EXECUTE",
  "function public.agent_away(project_id uuid): authenticated EXECUTE",
  "function public.agent_heartbeat(project_id uuid): authenticated EXECUTE",
  "function public.ai_post_reply(message_id uuid, content text, model text, prompt_tokens integer, completion_tokens integer, llm_latency_ms integer, is_fallback boolean, error text, claim_token uuid, failure_is_permanent boolean, truncated boolean, hand_over boolean, hand_over_reason text, knowledge_passage_ids uuid[]): service_role EXECUTE",
  "function public.ai_release_claims(claim_tokens uuid[]): service_role EXECUTE",
  "function public.ai_reply_context(message_id uuid, claim_seconds integer): service_role EXECUTE",
  "function public.hand_back_to_ai(conversation_id uuid): authenticated EXECUTE",
  "schema private: authenticated USAGE",
  "schema private: service_role USAGE",
  "schema public: PUBLIC USAGE",
  "schema public: anon USAGE",
  "schema public: authenticated USAGE",
  "schema public: postgres USAGE",
  "schema public: service_role USAGE",
  "table public.agent_inbox: authenticated SELECT",
  "table public.ai_reply_jobs: service_role SELECT",
  "table public.conversations: authenticated SELECT",
  "table public.conversations: service_role SELECT",
  "table public.conversations_awaiting_human: authenticated SELECT",
  "table public.knowledge_articles: service_role DELETE",
  "table public.messages: authenticated SELECT",
  "table public.messages: service_role SELECT",
  "table public.project_members: authenticated SELECT",
  "table public.projects: authenticated SELECT",
  "table public.projects: service_role SELECT",
];

describe("grants", () => {
  it("are exactly the intended matrix: nothing more, nothing less", async () => {
    expect(await grantMatrix(db.pool)).toEqual(expected);
  });

  it("leave every security definer function with an empty search_path", async () => {
    const { rows } = await db.pool.query<{ fn: string }>(`
      select n.nspname || '.' || p.proname as fn
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname in ('public', 'private') and p.prosecdef
        and not coalesce(p.proconfig @> array['search_path=""'], false)`);
    expect(rows).toEqual([]);
  });

  it("give no API role the admins' usage view (Table Editor and SQL editor only)", async () => {
    const { rows } = await db.pool.query("select relacl from pg_class where oid = 'public.ai_usage_daily'::regclass");
    expect(rows).toHaveLength(1);
    expect(await grantMatrix(db.pool)).not.toContainEqual(expect.stringContaining("ai_usage_daily"));
    for (const role of ["anon", "authenticated", "service_role"]) {
      const { rows: [can] } = await db.pool.query("select has_table_privilege($1, 'public.ai_usage_daily', 'select') as select", [role]);
      expect(can, role).toEqual({ select: false });
    }
  });

  it("leave row level security on for every table in public", async () => {
    const { rows } = await db.pool.query<{ table: string }>(`
      select c.relname as table from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relrowsecurity`);
    expect(rows).toEqual([]);
  });
});
