-- Explicit, least-privilege Data API grants on every table and function in public.
-- Since the Data API change (Supabase changelog 45329: new projects since 2026-05-30, all
-- projects since 2026-10-30), new tables get no SELECT, INSERT, UPDATE or DELETE for anon,
-- authenticated or service_role, but still get REFERENCES, TRIGGER, TRUNCATE and MAINTAIN;
-- projects created earlier kept the old "grant all" defaults. Either way, this migration
-- leaves the same grants: it takes everything away, then grants what each role needs.
--   anon:          nothing (visitors are signed in anonymously: role authenticated).
--   authenticated: visitors read their conversations and messages, start conversations and
--                  write messages, column by column; RLS decides which rows.
--   service_role:  the ai-responder function, through ai_reply_context and ai_post_reply
--                  (security invoker, so service_role needs what their SQL touches).
-- tests/grants.test.ts compares the whole matrix to what this file says: a grant added or
-- lost anywhere fails it.

revoke all on public.projects, public.conversations, public.messages, public.ai_reply_jobs
  from anon, authenticated, service_role;

-- ============================================================================
-- authenticated (visitors, through the widget)
-- ============================================================================
grant select on public.conversations to authenticated;
grant insert (id, project_id, visitor_id) on public.conversations to authenticated;
grant select on public.messages to authenticated;
grant insert (id, conversation_id, sender_id, from_customer, content) on public.messages to authenticated;

-- ============================================================================
-- service_role (the ai-responder function's SQL API)
-- ============================================================================
-- Settings, the conversation's state and its history.
grant select on public.projects, public.conversations, public.messages to service_role;
-- ai_post_reply locks the conversation (select ... for update needs an UPDATE grant) so that
-- an agent's takeover and the reply serialise; handing a conversation back is the same column.
grant update (handed_off_to) on public.conversations to service_role;
-- The AI's reply to one visitor message.
grant insert (conversation_id, sender_id, from_customer, content, reply_to) on public.messages to service_role;
-- Claims, outcomes and usage.
grant select on public.ai_reply_jobs to service_role;
grant insert (message_id, conversation_id, last_dispatched_at, claimed_until) on public.ai_reply_jobs to service_role;
grant update (claimed_until, outcome, finished_at, model, prompt_tokens, completion_tokens, llm_latency_ms, error)
  on public.ai_reply_jobs to service_role;
