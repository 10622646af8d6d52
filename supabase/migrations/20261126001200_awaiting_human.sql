-- A conversation waiting for a human. When the AI must stop in a conversation (its reply cap,
-- the project's daily budget; later, a hand-over the AI asks for), it posts the project's
-- hand-over text once and marks the conversation: awaiting_human_since and
-- awaiting_human_reason. While it is set the AI stays silent there, exactly as after a human
-- took over: the webhook is not sent and ai_reply_context skips with 'awaiting_human'. An
-- agent writing in the conversation clears it (the takeover), and so does handing the
-- conversation back (handed_off_to set back to null). Visitors may read both columns (their
-- conversations' select grant), so the widget can say that a person will reply.
--
-- Security definer functions in this migration (each bypasses RLS on purpose):
--   private.hand_over_to_human(conversation, reason): marks the conversation and posts the
--     hand-over text; called by the SQL API (service_role), which may not update these columns.
--   private.on_message_inserted(): replaced (see 20261124000100) to clear the mark on takeover.

alter table public.conversations
  add column awaiting_human_since timestamptz,
  add column awaiting_human_reason text;

comment on column public.conversations.awaiting_human_since is 'When the AI handed this conversation over to a person (it stays silent while set); cleared when an agent writes or the conversation is handed back. Set it to null to let the AI answer again.';
comment on column public.conversations.awaiting_human_reason is 'Why the AI handed over: reply_cap (ai_max_replies_per_conversation reached), daily_budget (the project''s ai_daily_token_budget is spent), or another reason given by the caller of private.hand_over_to_human.';

alter table public.projects
  add column ai_handover_message text
    default 'I''m handing you over to a member of our team; they will reply here as soon as they can.'
    check (char_length(ai_handover_message) between 1 and 4000);

comment on column public.projects.ai_handover_message is 'Posted once when the AI hands a conversation over to a person (reply cap, daily budget); null hands over without a message.';

-- ============================================================================
-- The AI stays silent while a conversation awaits a human
-- ============================================================================
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
    when exists (select 1 from public.messages r where r.reply_to = message.id) then 'already_answered'
  end
  from public.conversations c
  join public.projects p on p.id = c.project_id
  where c.id = message.conversation_id
$$;
revoke execute on function private.ai_reply_skip_reason(public.messages) from public;
grant execute on function private.ai_reply_skip_reason(public.messages) to service_role;

alter table public.ai_reply_jobs drop constraint ai_reply_jobs_outcome_check;
alter table public.ai_reply_jobs add constraint ai_reply_jobs_outcome_check check (outcome in (
  'answered', 'fallback', 'ai_disabled', 'handed_off', 'superseded', 'failed',
  'awaiting_human', 'reply_cap', 'daily_budget', 'paused'
));
comment on column public.ai_reply_jobs.outcome is 'null while open; answered or fallback once a reply is posted; ai_disabled, handed_off, awaiting_human or superseded (a newer visitor message got the answer) when no reply was due; reply_cap or daily_budget when this message made the AI hand the conversation over; paused when the project''s circuit breaker was open (the fallback text is posted if the project has one); failed when retries ran out (the fallback text is posted if the project has one).';

-- ============================================================================
-- Handing over (generic: any reason)
-- ============================================================================
create function private.hand_over_to_human(conversation uuid, reason text)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  project uuid;
  handover text;
begin
  update public.conversations c
  set awaiting_human_since = now(), awaiting_human_reason = reason
  where c.id = conversation and c.awaiting_human_since is null and c.handed_off_to is null
  returning c.project_id into project;
  if project is null then
    return false; -- already waiting for, or with, a person: the text was posted once already
  end if;

  select p.ai_handover_message into handover from public.projects p where p.id = project;
  if handover is not null then
    insert into public.messages (conversation_id, sender_id, from_customer, content)
    values (conversation, 'AI_BOT', false, handover);
  end if;
  return true;
end;
$$;
revoke execute on function private.hand_over_to_human(uuid, text) from public;
grant execute on function private.hand_over_to_human(uuid, text) to service_role;

comment on function private.hand_over_to_human(uuid, text) is 'Marks a conversation as waiting for a person (the AI stays silent there) and posts the project''s hand-over text, once: true if it handed over now, false if the conversation already waited for or was with a person.';

-- ============================================================================
-- A person takes over or hands back: the wait is over
-- ============================================================================
create or replace function private.on_message_inserted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  by_agent boolean := not new.from_customer and new.sender_id <> 'AI_BOT';
begin
  update public.conversations c
  set last_message = new.content,
      last_message_at = new.created_at,
      handed_off_to = case when by_agent then coalesce(c.handed_off_to, new.sender_id) else c.handed_off_to end,
      awaiting_human_since = case when by_agent then null else c.awaiting_human_since end,
      awaiting_human_reason = case when by_agent then null else c.awaiting_human_reason end
  where c.id = new.conversation_id
    and (c.last_message_at is null or c.last_message_at <= new.created_at);

  -- An agent message that lost the ordering race above still takes the conversation over.
  if not found and by_agent then
    update public.conversations c
    set handed_off_to = coalesce(c.handed_off_to, new.sender_id),
        awaiting_human_since = null,
        awaiting_human_reason = null
    where c.id = new.conversation_id;
  end if;
  return null;
end;
$$;
revoke execute on function private.on_message_inserted() from public;

create function private.clear_awaiting_human_on_hand_back()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.awaiting_human_since := null;
  new.awaiting_human_reason := null;
  return new;
end;
$$;
revoke execute on function private.clear_awaiting_human_on_hand_back() from public;

create trigger clear_awaiting_human_on_hand_back
  before update of handed_off_to on public.conversations
  for each row when (old.handed_off_to is not null and new.handed_off_to is null)
  execute function private.clear_awaiting_human_on_hand_back();
