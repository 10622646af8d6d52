-- When the AI answers: projects.ai_mode 'always' (the behaviour so far, the default) or
-- 'when_no_agent_online': the AI stays silent while at least one member of the project is
-- online (private.agents_online: a recent heartbeat, within the opening hours if any).
-- ai_enabled stays the master switch. The dispatch trigger decides, so no webhook is sent
-- while an agent is online; private.ai_reply_skip_reason says 'agent_online' too, so the
-- retry sweeper, ai_reply_context and ai_post_reply agree with the trigger (a message
-- dispatched just before an agent came online is not answered by the AI). When the last agent
-- goes offline, the AI starts with the next visitor message; conversations a person has taken
-- over (handed_off_to) or that wait for one (awaiting_human_since) stay with the humans.
--
-- Security definer functions in this migration: private.dispatch_ai_reply (replaced; see
-- 20261126001400): reads project settings, presence and Vault, which visitors cannot.

alter table public.projects
  add column ai_mode text not null default 'always'
    check (ai_mode in ('always', 'when_no_agent_online'));

comment on column public.projects.ai_mode is 'When the AI answers (while ai_enabled): always, or when_no_agent_online: only while no member of the project is online (heartbeat within agent_online_window_seconds, during the opening hours if set). Takes effect for the very next visitor message.';

grant update (ai_mode) on public.projects to authenticated;

alter table public.ai_reply_jobs drop constraint ai_reply_jobs_outcome_check;
alter table public.ai_reply_jobs add constraint ai_reply_jobs_outcome_check check (outcome in (
  'answered', 'fallback', 'ai_disabled', 'handed_off', 'superseded', 'failed',
  'awaiting_human', 'reply_cap', 'daily_budget', 'paused', 'agent_online'
));
comment on column public.ai_reply_jobs.outcome is 'null while open; answered or fallback once a reply is posted; ai_disabled, handed_off, awaiting_human, agent_online (ai_mode when_no_agent_online and an agent came online) or superseded (a newer visitor message got the answer) when no reply was due; reply_cap or daily_budget when this message made the AI hand the conversation over; paused when the project''s circuit breaker was open (the fallback text is posted if the project has one); failed when retries ran out (the fallback text is posted if the project has one).';

-- ============================================================================
-- Whether the AI steps aside for the agents
-- ============================================================================
create function private.ai_steps_aside(project public.projects)
returns boolean
language sql
stable
set search_path = ''
as $$
  select project.ai_mode = 'when_no_agent_online' and private.agents_online(project.id)
$$;
revoke execute on function private.ai_steps_aside(public.projects) from public;
grant execute on function private.ai_steps_aside(public.projects) to service_role;

create or replace function private.ai_reply_skip_reason(message public.messages)
returns text
language sql
stable
set search_path = ''
as $$
  select case
    when not p.ai_enabled then 'ai_disabled'
    when c.handed_off_to is not null then 'handed_off'
    when c.awaiting_human_since is not null then 'awaiting_human'
    when private.ai_steps_aside(p) then 'agent_online'
    when exists (select 1 from public.messages r where r.reply_to = message.id) then 'already_answered'
  end
  from public.conversations c
  join public.projects p on p.id = c.project_id
  where c.id = message.conversation_id
$$;
revoke execute on function private.ai_reply_skip_reason(public.messages) from public;
grant execute on function private.ai_reply_skip_reason(public.messages) to service_role;

-- ============================================================================
-- The dispatch: as in 20261126001400, and no webhook while the AI steps aside
-- ============================================================================
create or replace function private.dispatch_ai_reply()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  latest record;
  newest public.messages;
begin
  -- A visitor inserts one message per request (20261126001000); refused before any webhook.
  perform private.refuse_visitor_batches_of(inserted_count => (select count(*)::integer from inserted), table_name => 'messages');
  for latest in
    select distinct on (m.conversation_id) m.id, m.conversation_id, p.ai_reply_delay_ms
    from inserted m
    join public.conversations c on c.id = m.conversation_id
    join public.projects p on p.id = c.project_id
    -- No invocation is wasted while the AI is off, a person has taken over or is awaited, or
    -- the project's agents are online and the AI answers only when none is.
    where m.from_customer and p.ai_enabled and c.handed_off_to is null and c.awaiting_human_since is null
      and not private.ai_steps_aside(p)
    order by m.conversation_id, m.created_at desc, m.id desc
  loop
    select * into newest from public.messages m where m.id = latest.id;
    perform private.send_ai_reply_webhook(newest, latest.ai_reply_delay_ms);

    insert into public.ai_reply_jobs (message_id, conversation_id, last_dispatched_at, outcome, finished_at)
    select o.id, o.conversation_id, now(), 'superseded', now()
    from inserted o
    where o.conversation_id = latest.conversation_id and o.from_customer and o.id <> latest.id;
  end loop;
  return null;
end;
$$;
revoke execute on function private.dispatch_ai_reply() from public;
