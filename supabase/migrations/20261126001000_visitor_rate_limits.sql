-- Per-visitor rate limits, and one row per statement for visitors. The widget is public and
-- visitors are anonymous, so every limit must hold against a script: a visitor (role
-- authenticated with a user id, as PostgREST sets it from the JWT) may send at most
-- projects.visitor_messages_per_minute messages and start at most
-- projects.visitor_conversations_per_hour conversations, counted per auth.uid() in a private
-- table before the row is written. A refused insert fails with SQLSTATE PT429, which
-- PostgREST answers with HTTP 429 and the message (supabase-js: error.message), so the
-- widget can say when to try again; nothing is stored, and the refused attempt is not
-- counted (its transaction rolls back, counter included). A visitor statement inserting
-- more than one message or conversation is refused (PT400): a widget never sends arrays.
--
-- Security definer functions in this migration (each bypasses RLS on purpose):
--   private.count_visitor_insert(visitor, what, allowed, per): reads and writes the private
--     counters, which visitors cannot.
--   private.limit_visitor_messages(), private.limit_visitor_conversations(): triggers on
--     visitor inserts; read the project's limits, which visitors cannot.
--   private.refuse_visitor_batches(): trigger on visitor inserts; calls private functions,
--     which visitors may not.

-- ============================================================================
-- The limits, per project (Table Editor)
-- ============================================================================
alter table public.projects
  add column visitor_messages_per_minute integer not null default 10
    check (visitor_messages_per_minute between 1 and 10000),
  add column visitor_conversations_per_hour integer not null default 3
    check (visitor_conversations_per_hour between 1 and 10000);

comment on column public.projects.visitor_messages_per_minute is 'Most messages one visitor may send per minute (counted per signed-in visitor across their conversations); more are refused with HTTP 429 and "try again in N s". Bounds the LLM calls one visitor can cause.';
comment on column public.projects.visitor_conversations_per_hour is 'Most conversations one visitor may start per hour; more are refused with HTTP 429.';

-- ============================================================================
-- Counters: one row per visitor and kind, a fixed window that restarts when it has passed
-- ============================================================================
create table private.visitor_rate_counters (
  visitor_id uuid not null,
  kind text not null check (kind in ('message', 'conversation')),
  window_start timestamptz not null,
  count integer not null,
  primary key (visitor_id, kind)
);
alter table private.visitor_rate_counters enable row level security;

comment on table private.visitor_rate_counters is 'How many messages or conversations each visitor wrote since window_start; the window restarts once it has passed.';

create function private.count_visitor_insert(visitor uuid, what text, allowed integer, per interval)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  counted integer;
  started timestamptz;
  wait_seconds integer;
begin
  insert into private.visitor_rate_counters as r (visitor_id, kind, window_start, count)
  values (visitor, what, now(), 1)
  on conflict on constraint visitor_rate_counters_pkey do update
    set window_start = case when r.window_start <= now() - per then now() else r.window_start end,
        count = case when r.window_start <= now() - per then 1 else r.count + 1 end
  returning r.count, r.window_start into counted, started;

  if counted > allowed then
    wait_seconds := greatest(ceil(extract(epoch from started + per - now())), 1);
    raise exception using
      errcode = 'PT429',
      message = format('You are %s too quickly; try again in %s s',
        case what when 'message' then 'sending messages' else 'starting conversations' end, wait_seconds),
      detail = format('At most %s %s per %s per visitor.', allowed,
        case what when 'message' then 'messages' else 'conversations' end,
        case per when interval '1 minute' then 'minute' else 'hour' end),
      hint = format('Retry after %s seconds.', wait_seconds);
  end if;
end;
$$;
revoke execute on function private.count_visitor_insert(uuid, text, integer, interval) from public;

comment on function private.count_visitor_insert(uuid, text, integer, interval) is 'Counts one insert by a visitor in the current window; raises PT429 (HTTP 429) past the allowed number.';

-- A visitor: an API request with a user id (PostgREST sets role authenticated from the JWT).
-- The service role, postgres and agents' tools are not limited here.
create function private.is_visitor_request()
returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce(auth.role() = 'authenticated' and auth.uid() is not null, false)
$$;
revoke execute on function private.is_visitor_request() from public;

-- ============================================================================
-- Before each visitor row: count it, refuse past the limit
-- ============================================================================
create function private.limit_visitor_messages()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  allowed integer;
begin
  if new.from_customer and private.is_visitor_request() then
    select p.visitor_messages_per_minute into allowed
    from public.conversations c join public.projects p on p.id = c.project_id
    where c.id = new.conversation_id;
    -- No such conversation: RLS and the foreign key refuse the row anyway.
    if allowed is not null then
      perform private.count_visitor_insert(auth.uid(), 'message', allowed, interval '1 minute');
    end if;
  end if;
  return new;
end;
$$;
revoke execute on function private.limit_visitor_messages() from public;

create function private.limit_visitor_conversations()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  allowed integer;
begin
  if private.is_visitor_request() then
    select p.visitor_conversations_per_hour into allowed from public.projects p where p.id = new.project_id;
    if allowed is not null then
      perform private.count_visitor_insert(auth.uid(), 'conversation', allowed, interval '1 hour');
    end if;
  end if;
  return new;
end;
$$;
revoke execute on function private.limit_visitor_conversations() from public;

create trigger limit_visitor_messages
  before insert on public.messages
  for each row execute function private.limit_visitor_messages();

create trigger limit_visitor_conversations
  before insert on public.conversations
  for each row execute function private.limit_visitor_conversations();

-- ============================================================================
-- One row per visitor statement
-- ============================================================================
create function private.refuse_visitor_batches_of(inserted_count integer, table_name text)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if inserted_count > 1 and private.is_visitor_request() then
    raise exception using
      errcode = 'PT400',
      message = format('Send one %s at a time', case table_name when 'messages' then 'message' else 'conversation' end),
      detail = format('A visitor may insert one row of %s per request.', table_name);
  end if;
end;
$$;
revoke execute on function private.refuse_visitor_batches_of(integer, text) from public;

create function private.refuse_visitor_batches()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.refuse_visitor_batches_of((select count(*)::integer from inserted), tg_table_name);
  return null;
end;
$$;
revoke execute on function private.refuse_visitor_batches() from public;

-- On messages, the statement-level dispatch trigger (20261126001400) calls this first: one
-- statement trigger per insert instead of two (each captures its own transition table).
create trigger check_one_conversation_per_visitor_statement
  after insert on public.conversations
  referencing new table as inserted
  for each statement execute function private.refuse_visitor_batches();

-- ============================================================================
-- Old windows are of no use: an hourly job keeps the counters table small
-- ============================================================================
create function private.trim_visitor_rate_counters()
returns integer
language sql
security invoker
set search_path = ''
as $$
  with trimmed as (
    delete from private.visitor_rate_counters r where r.window_start < now() - interval '1 day' returning 1
  )
  select count(*)::integer from trimmed
$$;
revoke execute on function private.trim_visitor_rate_counters() from public;

select cron.schedule('trim-visitor-rate-counters', '41 * * * *', $$select private.trim_visitor_rate_counters()$$);
