-- Live chat: projects (one per customer website), conversations (one per visitor thread)
-- and messages, with row level security so that each visitor reads and writes only
-- their own conversations, and messages published to Supabase Realtime.
--
-- Security definer functions in this migration (each bypasses RLS on purpose):
--   private.on_message_inserted(): keeps conversations.last_message current and records a
--     human takeover; runs as a trigger on visitor inserts, who may not update conversations.

create schema if not exists private;
revoke all on schema private from public;

-- ============================================================================
-- projects
-- ============================================================================
create table public.projects (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  ai_enabled boolean not null default false,
  ai_model text,
  ai_system_prompt text,
  ai_history_limit integer not null default 10 check (ai_history_limit between 1 and 50),
  ai_fallback_message text check (char_length(ai_fallback_message) between 1 and 4000),
  ai_reply_delay_ms integer not null default 600 check (ai_reply_delay_ms between 0 and 10000),
  created_at timestamptz not null default now()
);
alter table public.projects enable row level security;

comment on table public.projects is 'One per customer website that embeds the chat widget, with its AI auto-responder settings.';
comment on column public.projects.ai_enabled is 'AI auto-responder switch: true answers visitors with the AI (agents offline); false leaves every new message to human agents. Takes effect for the very next visitor message.';
comment on column public.projects.ai_model is 'Groq model for replies; null uses the GROQ_MODEL secret of the ai-responder function (default openai/gpt-oss-20b).';
comment on column public.projects.ai_system_prompt is 'Instructions for the AI (what the site is about, tone, what not to answer); null uses a default that keeps it on topic and never claims to be human.';
comment on column public.projects.ai_history_limit is 'How many of the latest messages of a conversation the AI reads before answering (1 to 50).';
comment on column public.projects.ai_fallback_message is 'Posted to the visitor when the AI cannot answer (LLM down or rate limited); null posts nothing.';
comment on column public.projects.ai_reply_delay_ms is 'How long after a visitor message the AI waits before answering, so that a burst of messages gets one answer (0 to 10000 ms).';

-- Visitors never read projects: RLS is on with no policy for them, and grants are narrowed too.
revoke all on public.projects from anon, authenticated;

-- ============================================================================
-- conversations
-- ============================================================================
create table public.conversations (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  visitor_id uuid references auth.users (id) on delete set null,
  last_message text,
  last_message_at timestamptz,
  handed_off_to text,
  created_at timestamptz not null default now()
);
alter table public.conversations enable row level security;

create index conversations_visitor_id_idx on public.conversations (visitor_id);
create index conversations_project_latest_idx on public.conversations (project_id, last_message_at desc);

comment on table public.conversations is 'One chat thread between a website visitor and the project (AI or human agents).';
comment on column public.conversations.visitor_id is 'The visitor''s auth user id (widgets sign visitors in with signInAnonymously()).';
comment on column public.conversations.last_message is 'Content of the latest message, kept current by a trigger.';
comment on column public.conversations.last_message_at is 'When the latest message was sent, kept current by a trigger.';
comment on column public.conversations.handed_off_to is 'Sender id of the human agent who took this conversation over by writing in it; the AI stays silent while it is set. Set it back to null to hand the conversation back to the AI.';

revoke all on public.conversations from anon, authenticated;
grant select on public.conversations to authenticated;
grant insert (id, project_id, visitor_id) on public.conversations to authenticated;

create policy "visitors read their own conversations"
  on public.conversations for select to authenticated
  using (visitor_id = (select auth.uid()));

create policy "visitors start conversations as themselves"
  on public.conversations for insert to authenticated
  with check (visitor_id = (select auth.uid()));

-- ============================================================================
-- messages
-- ============================================================================
create table public.messages (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  sender_id text not null check (char_length(sender_id) between 1 and 200),
  from_customer boolean not null,
  content text not null constraint messages_content_length check (char_length(content) between 1 and 4000),
  reply_to uuid references public.messages (id) on delete cascade,
  created_at timestamptz not null default now(),
  constraint messages_only_ai_replies_answer check (reply_to is null or (sender_id = 'AI_BOT' and not from_customer)),
  constraint messages_visitors_are_not_the_ai check (not (from_customer and sender_id = 'AI_BOT'))
);
alter table public.messages enable row level security;

-- "The latest N messages of a conversation", for the AI's context and the widget's history.
create index messages_conversation_latest_idx on public.messages (conversation_id, created_at desc, id desc);
-- One AI reply per visitor message, whatever delivers the webhook and however often.
create unique index messages_one_ai_reply_per_message on public.messages (reply_to);

comment on table public.messages is 'Chat messages. Visitor: from_customer = true. AI reply: sender_id = ''AI_BOT''. Human agent: any other sender_id with from_customer = false (it takes the conversation over).';
comment on column public.messages.reply_to is 'For AI replies: the visitor message answered (at most one reply each).';

revoke all on public.messages from anon, authenticated;
grant select on public.messages to authenticated;
grant insert (id, conversation_id, sender_id, from_customer, content) on public.messages to authenticated;

create policy "visitors read messages of their own conversations"
  on public.messages for select to authenticated
  using (exists (
    select 1 from public.conversations c
    where c.id = conversation_id and c.visitor_id = (select auth.uid())
  ));

create policy "visitors write in their own conversations as themselves"
  on public.messages for insert to authenticated
  with check (
    from_customer
    and sender_id = (select auth.uid())::text
    and exists (
      select 1 from public.conversations c
      where c.id = conversation_id and c.visitor_id = (select auth.uid())
    )
  );

-- Realtime pushes inserts to widgets, filtered by the same select policy per subscriber.
alter publication supabase_realtime add table public.messages;

-- ============================================================================
-- Conversation bookkeeping on every message
-- ============================================================================
create function private.on_message_inserted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.conversations c
  set last_message = new.content,
      last_message_at = new.created_at,
      handed_off_to = case
        when not new.from_customer and new.sender_id <> 'AI_BOT' then coalesce(c.handed_off_to, new.sender_id)
        else c.handed_off_to
      end
  where c.id = new.conversation_id
    and (c.last_message_at is null or c.last_message_at <= new.created_at);

  -- An agent message that lost the ordering race above still takes the conversation over.
  if not found and not new.from_customer and new.sender_id <> 'AI_BOT' then
    update public.conversations c
    set handed_off_to = coalesce(c.handed_off_to, new.sender_id)
    where c.id = new.conversation_id;
  end if;
  return null;
end;
$$;
revoke execute on function private.on_message_inserted() from public;

create trigger on_message_inserted
  after insert on public.messages
  for each row execute function private.on_message_inserted();
