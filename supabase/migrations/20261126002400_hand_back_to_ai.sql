-- Agents hand a conversation back to the AI through the API: public.hand_back_to_ai clears
-- handed_off_to and the wait for a person (awaiting_human_since and _reason) in one step. The
-- AI answers again from the next visitor message (if ai_mode lets it: see 20261126002300).
-- Members may not update conversations directly: an agent who could write handed_off_to could
-- also take over another agent's conversation silently or mark one as waiting.
--
-- Security definer functions in this migration (each bypasses RLS on purpose):
--   public.hand_back_to_ai(conversation_id): updates a conversation, which no API role but
--     service_role may; checks that the caller is a (non-anonymous) member of its project.

create function public.hand_back_to_ai(conversation_id uuid)
returns public.conversations
language plpgsql
security definer
set search_path = ''
as $$
declare
  handed_back public.conversations;
begin
  if auth.uid() is null or (auth.jwt() ->> 'is_anonymous')::boolean is true then
    raise exception using errcode = '42501', message = 'Only signed-in agents can hand a conversation back to the AI',
      detail = 'Visitors (anonymous sessions) are never project members.';
  end if;
  update public.conversations c
  set handed_off_to = null, awaiting_human_since = null, awaiting_human_reason = null
  where c.id = hand_back_to_ai.conversation_id
    and c.project_id = any (private.member_project_ids())
  returning c.* into handed_back;
  if not found then
    -- The same answer for a conversation that does not exist: its id tells a stranger nothing.
    raise exception using errcode = '42501',
      message = format('You are not a member of the project of conversation %s', hand_back_to_ai.conversation_id);
  end if;
  return handed_back;
end;
$$;

comment on function public.hand_back_to_ai(uuid) is 'For agents: hands a conversation of one of their projects back to the AI (clears handed_off_to, awaiting_human_since and awaiting_human_reason). Returns the conversation; 42501 (HTTP 403) for visitors, non-members and unknown conversations.';

revoke execute on function public.hand_back_to_ai(uuid) from public, anon;
grant execute on function public.hand_back_to_ai(uuid) to authenticated;
