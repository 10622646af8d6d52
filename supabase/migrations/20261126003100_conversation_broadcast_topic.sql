-- One private Realtime Broadcast topic per conversation, `conversation:<conversation id>`,
-- carrying everything a widget shows:
--   - every new message of the conversation, as Supabase's "Broadcast from Database" sends it
--     (realtime.broadcast_changes from an after-insert trigger: event 'INSERT', payload
--     {record, old_record, operation, table, schema});
--   - the AI's typing indicator and its reply as it is written (events `typing`, `preview`,
--     `preview_end`), published by the ai-responder function through Realtime's REST API with
--     the service role (which bypasses RLS).
-- Who may join: Realtime checks a private channel with RLS on realtime.messages (a probe row
-- with realtime.topic() set to the channel's topic must be SELECT-able). Only the visitor of
-- the conversation may; there is no INSERT policy, so visitors cannot send on the topic (the
-- widget only listens). Postgres Changes on public.messages stays available (README).
--
-- Security definer functions in this migration (each bypasses RLS on purpose):
--   private.visitor_owns_conversation_topic(topic): read by the realtime.messages policy at
--     each join; reads conversations in one indexed lookup, whatever the caller's policies.
--   private.broadcast_message(): the after-insert trigger; inserts into realtime.messages,
--     which visitors (who write messages) have no policy to insert into.

-- ============================================================================
-- Who may join a conversation's topic
-- ============================================================================
create function private.visitor_owns_conversation_topic(topic text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  -- Checked as text first: a topic that is not `conversation:<uuid>` answers false, not an error.
  select coalesce(
    topic ~ '^conversation:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
    and exists (
      select 1 from public.conversations c
      where c.id = substr(topic, length('conversation:') + 1)::uuid
        and c.visitor_id = (select auth.uid())
    ),
    false)
$$;
revoke execute on function private.visitor_owns_conversation_topic(text) from public;
grant execute on function private.visitor_owns_conversation_topic(text) to authenticated;

comment on function private.visitor_owns_conversation_topic(text) is 'Whether the signed-in user (auth.uid()) is the visitor of the conversation named by a Realtime topic `conversation:<id>`; false for any other topic.';

create policy "visitors join the topic of their own conversation"
  on realtime.messages for select to authenticated
  using (
    realtime.messages.extension in ('broadcast')
    and (select private.visitor_owns_conversation_topic((select realtime.topic())))
  );

-- ============================================================================
-- Broadcast from Database: every new message on its conversation's topic
-- ============================================================================
create function private.broadcast_message()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- realtime.send (inside) turns its own failures into warnings: a message is never lost
  -- because its broadcast failed; the widget reloads the history on each join anyway.
  perform realtime.broadcast_changes(
    'conversation:' || new.conversation_id::text, tg_op, tg_op, tg_table_name, tg_table_schema, new, old
  );
  return null;
end;
$$;
revoke execute on function private.broadcast_message() from public;

create trigger broadcast_message
  after insert on public.messages
  for each row execute function private.broadcast_message();
