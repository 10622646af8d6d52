-- One webhook per conversation per statement. The row-level dispatch trigger made one
-- function call per visitor row, so one statement of 3,000 rows made 3,001 calls and slowed
-- everyone's replies. Visitors may insert one row per statement (20261126001000); for
-- everyone else (service role, postgres, agents' tools) the dispatch is now per statement:
-- the newest visitor message of each conversation in the statement gets the webhook (its
-- answer reads the others as history), and the older ones are recorded in ai_reply_jobs as
-- superseded at once. As before, only visitor messages (from_customer) in a project whose AI
-- is on, in a conversation no person has taken over or is awaited in, are dispatched.
--
-- Security definer functions in this migration: private.dispatch_ai_reply (replaced; see
-- 20261124000200): reads project settings and Vault, which visitors cannot.

drop trigger dispatch_ai_reply on public.messages;

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
    -- No invocation is wasted while the AI is off or a person has taken over or is awaited.
    where m.from_customer and p.ai_enabled and c.handed_off_to is null and c.awaiting_human_since is null
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

-- Every insert statement; the function itself keeps to visitor messages, so AI and agent
-- inserts can never start a loop.
create trigger dispatch_ai_reply
  after insert on public.messages
  referencing new table as inserted
  for each statement execute function private.dispatch_ai_reply();
