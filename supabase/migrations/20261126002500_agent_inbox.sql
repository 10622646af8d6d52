-- The agents' inbox: one row per conversation of the caller's projects that has messages,
-- with its latest message, who has it (handed_off_to: the agent's user id; null: the AI),
-- whether it waits for a person and since when, and since when the visitor has been waiting
-- for an answer. security_invoker: it reads through the caller's own RLS, and filters by
-- membership, so visitors get nothing. Through REST:
--   GET /rest/v1/agent_inbox?project_id=eq.<id>&order=last_message_at.desc&limit=50
-- There is no closing of conversations yet: every conversation with messages is listed.

create view public.agent_inbox
with (security_invoker = true)
as
select
  c.id as conversation_id,
  c.project_id,
  c.visitor_id,
  c.created_at,
  c.last_message,
  c.last_message_at,
  latest.sender_id as last_sender_id,
  latest.from_customer as last_from_customer,
  c.handed_off_to,
  c.awaiting_human_since,
  c.awaiting_human_reason,
  -- The visitor's first message since the last answer (AI or agent); null when answered.
  (select min(v.created_at) from public.messages v
   where v.conversation_id = c.id and v.from_customer
     and v.created_at > coalesce((
       select max(r.created_at) from public.messages r where r.conversation_id = c.id and not r.from_customer
     ), '-infinity')) as waiting_since
from public.conversations c
cross join lateral (
  select m.sender_id, m.from_customer
  from public.messages m
  where m.conversation_id = c.id
  order by m.created_at desc, m.id desc
  limit 1
) latest
where c.project_id = any ((select private.member_project_ids())::uuid[]);

comment on view public.agent_inbox is 'For agents (REST, under their RLS): each conversation of their projects with messages: the latest message and its sender, handed_off_to (the agent who took it over; null: the AI has it), awaiting_human_since/_reason (the AI handed it over), waiting_since (the visitor''s first unanswered message). Empty for visitors.';

revoke all on public.agent_inbox from anon, authenticated, service_role;
grant select on public.agent_inbox to authenticated;
