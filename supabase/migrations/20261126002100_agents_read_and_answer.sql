-- What members (agents and admins) of a project do through the API, under RLS:
--   - read its conversations and messages (REST, and Realtime postgres_changes, which checks
--     each row with the same select policy);
--   - write agent messages (from_customer false, sender_id = their user id) in its
--     conversations, which takes the conversation over (private.on_message_inserted sets
--     handed_off_to to their user id);
--   - read the project's row; admins also change its settings (column grants below), the
--     database owner keeps the Table Editor.
-- The visitors' policies are unchanged; permissive policies add up, so each member policy
-- goes through private.member_project_ids(), which is empty for anonymous sessions.
--
-- Security definer functions in this migration (each bypasses RLS on purpose):
--   private.member_conversation_ids(): the caller's projects' conversations, for the select
--     policies on conversations (which cannot read conversations under RLS) and messages.

-- ============================================================================
-- Conversations and messages
-- ============================================================================
-- The conversations of the caller's projects, as an array computed once per statement: both
-- select policies then compare an indexed id with it, as the visitors' do (20261126001100), so
-- a visitor's unfiltered read still goes through conversations_visitor_id_idx and
-- messages_conversation_latest_idx (a project_id arm would make the planner scan every
-- conversation). security definer: a conversations policy cannot query conversations under RLS.
create function private.member_conversation_ids()
returns uuid[]
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(c.id), '{}')
  from public.conversations c
  where c.project_id = any (private.member_project_ids())
$$;
revoke execute on function private.member_conversation_ids() from public;
grant execute on function private.member_conversation_ids() to authenticated;

comment on function private.member_conversation_ids() is 'The conversations of the projects the caller is a member of; empty for visitors and anonymous sessions. For the members'' select policies.';

create policy "members read their projects' conversations"
  on public.conversations for select to authenticated
  using (id = any ((select private.member_conversation_ids())::uuid[]));

create policy "members read messages of their projects' conversations"
  on public.messages for select to authenticated
  using (conversation_id = any ((select private.member_conversation_ids())::uuid[]));

create policy "members write agent messages in their projects' conversations as themselves"
  on public.messages for insert to authenticated
  with check (
    not from_customer
    and sender_id = (select auth.uid())::text
    and exists (
      select 1 from public.conversations c
      where c.id = conversation_id and c.project_id = any ((select private.member_project_ids())::uuid[])
    )
  );

-- ============================================================================
-- Projects: members read their own; admins change the settings
-- ============================================================================
grant select on public.projects to authenticated;
-- Not id, created_at or ai_paused_reason (written by the circuit breaker).
grant update (
  name, ai_enabled, ai_model, ai_system_prompt, ai_history_limit, ai_fallback_message, ai_reply_delay_ms,
  ai_handover_message, ai_max_replies_per_conversation, ai_daily_token_budget, ai_time_zone,
  ai_max_prompt_tokens, ai_max_completion_tokens, ai_breaker_threshold, ai_breaker_cool_off_seconds,
  ai_paused_until, allowed_origins, visitor_messages_per_minute, visitor_conversations_per_hour
) on public.projects to authenticated;

create policy "members read their projects"
  on public.projects for select to authenticated
  using (id = any ((select private.member_project_ids())::uuid[]));

create policy "admins change their projects' settings"
  on public.projects for update to authenticated
  using (id = any ((select private.member_project_ids('admin'))::uuid[]))
  with check (id = any ((select private.member_project_ids('admin'))::uuid[]));

-- Visitors are authenticated too: whatever policy is added later, never theirs.
create policy "visitors never read projects"
  on public.projects as restrictive for select to authenticated
  using (((select auth.jwt()) ->> 'is_anonymous')::boolean is not true);

create policy "visitors never change projects"
  on public.projects as restrictive for update to authenticated
  using (((select auth.jwt()) ->> 'is_anonymous')::boolean is not true);
