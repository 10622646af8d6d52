-- The agents' queue of conversations the AI handed over (its own choice through the
-- hand_over_to_human tool, the reply cap or the daily budget), longest wait first. It is
-- public.agent_inbox (20261126002500) narrowed to conversations with awaiting_human_since set,
-- so it filters by the caller's memberships the same way (security_invoker: the caller's own
-- RLS, and private.member_project_ids(); visitors and non-members get nothing). Through REST:
--   GET /rest/v1/conversations_awaiting_human?project_id=eq.<id>
-- In the SQL editor (as postgres, a member of no project) it is empty: there, read
-- public.conversations where awaiting_human_since is not null.
-- No security definer function in this migration.

create view public.conversations_awaiting_human
with (security_invoker = true)
as
select
  i.conversation_id,
  i.project_id,
  i.visitor_id,
  i.awaiting_human_since,
  i.awaiting_human_reason,
  i.last_message,
  i.last_message_at,
  i.last_from_customer,
  i.waiting_since
from public.agent_inbox i
where i.awaiting_human_since is not null
order by i.awaiting_human_since, i.conversation_id;

comment on view public.conversations_awaiting_human is 'For agents (REST, under their RLS): the conversations of their projects that the AI handed over to a person and no agent has answered yet, longest wait first, with why (awaiting_human_reason: the AI''s reason, reply_cap or daily_budget).';

revoke all on public.conversations_awaiting_human from anon, authenticated, service_role;
grant select on public.conversations_awaiting_human to authenticated;
