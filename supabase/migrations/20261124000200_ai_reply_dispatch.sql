-- The webhook: when a visitor writes in a project whose AI is on, call the ai-responder
-- Edge Function through pg_net with a Supabase Database Webhook payload, and record the
-- dispatch in public.ai_reply_jobs so that unanswered messages can be found and retried.
--
-- Security definer functions in this migration (each bypasses RLS on purpose):
--   private.dispatch_ai_reply(): trigger on visitor inserts; reads project settings and
--     Vault, which visitors cannot.
--   private.send_ai_reply_webhook(message, delay): reads Vault and calls net.http_post.
--
-- Set up once per project (see README):
--   select vault.create_secret('https://<project-ref>.supabase.co', 'project_url');
--   select vault.create_secret('<random secret>', 'ai_responder_webhook_secret');

create extension if not exists pg_net with schema extensions;

-- ============================================================================
-- ai_reply_jobs: one row per visitor message the AI was asked to answer
-- ============================================================================
create table public.ai_reply_jobs (
  message_id uuid primary key references public.messages (id) on delete cascade,
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  dispatch_count integer not null default 0,
  last_dispatched_at timestamptz,
  last_request_id bigint,
  claimed_until timestamptz,
  outcome text check (outcome in ('answered', 'fallback', 'ai_disabled', 'handed_off', 'superseded', 'failed')),
  finished_at timestamptz,
  model text,
  prompt_tokens integer,
  completion_tokens integer,
  llm_latency_ms integer,
  error text,
  created_at timestamptz not null default now()
);
alter table public.ai_reply_jobs enable row level security;
revoke all on public.ai_reply_jobs from anon, authenticated;

-- "Open jobs, oldest dispatch first", for finding what is still unanswered.
create index ai_reply_jobs_open_idx on public.ai_reply_jobs (last_dispatched_at) where outcome is null;
create index ai_reply_jobs_conversation_idx on public.ai_reply_jobs (conversation_id);

comment on table public.ai_reply_jobs is 'One row per visitor message sent to the AI: webhook dispatches, outcome, and LLM usage. Admin-only (no visitor policy).';
comment on column public.ai_reply_jobs.dispatch_count is 'How many times the webhook was attempted for this message (last_request_id is null if the latest could not be sent).';
comment on column public.ai_reply_jobs.last_request_id is 'pg_net request id of the latest dispatch: join net._http_response on id for the HTTP outcome.';
comment on column public.ai_reply_jobs.claimed_until is 'While in the future, one run of the function is answering this message and others stand back.';
comment on column public.ai_reply_jobs.outcome is 'null while open; answered or fallback once a reply is posted; ai_disabled, handed_off or superseded (a newer visitor message got the answer) when no reply was due; failed when retries ran out (the fallback text is posted if the project has one).';
comment on column public.ai_reply_jobs.llm_latency_ms is 'Time spent waiting for the LLM, retries included.';
comment on column public.ai_reply_jobs.error is 'Why the LLM failed (status and type, never content), when a fallback was posted or nothing could be.';

-- ============================================================================
-- Sending the webhook
-- ============================================================================
create function private.send_ai_reply_webhook(message public.messages, reply_delay_ms integer)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  project_url text;
  webhook_secret text;
  request_id bigint;
begin
  select decrypted_secret into project_url from vault.decrypted_secrets where name = 'project_url';
  select decrypted_secret into webhook_secret from vault.decrypted_secrets where name = 'ai_responder_webhook_secret';

  if project_url is null or webhook_secret is null then
    raise warning 'ai-responder webhook not sent for message %: set the Vault secrets project_url and ai_responder_webhook_secret', message.id;
  else
    -- Never lose the visitor's message because of the webhook: a pg_net failure only warns.
    begin
      request_id := net.http_post(
        url := rtrim(project_url, '/') || '/functions/v1/ai-responder',
        body := jsonb_build_object(
          'type', 'INSERT', 'table', 'messages', 'schema', 'public',
          'record', to_jsonb(message), 'old_record', null
        ),
        headers := jsonb_build_object(
          'Content-Type', 'application/json',
          'Authorization', 'Bearer ' || webhook_secret,
          -- Lets the function wait out a burst before its first database call.
          'x-reply-delay-ms', reply_delay_ms::text
        ),
        -- The function answers 202 at once and works in the background.
        timeout_milliseconds := 5000
      );
    exception when others then
      raise warning 'ai-responder webhook not sent for message %: % (%)', message.id, sqlerrm, sqlstate;
    end;
  end if;

  insert into public.ai_reply_jobs as j (message_id, conversation_id, dispatch_count, last_dispatched_at, last_request_id)
  values (message.id, message.conversation_id, 1, now(), request_id)
  on conflict (message_id) do update
    set dispatch_count = j.dispatch_count + 1,
        last_dispatched_at = now(),
        last_request_id = request_id;

  return request_id;
end;
$$;
revoke execute on function private.send_ai_reply_webhook(public.messages, integer) from public;

create function private.dispatch_ai_reply()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  ai_enabled boolean;
  reply_delay_ms integer;
  handed_off_to text;
begin
  select p.ai_enabled, p.ai_reply_delay_ms, c.handed_off_to
  into ai_enabled, reply_delay_ms, handed_off_to
  from public.conversations c
  join public.projects p on p.id = c.project_id
  where c.id = new.conversation_id;

  -- No invocation is wasted while the AI is off or a human has taken over.
  if ai_enabled and handed_off_to is null then
    perform private.send_ai_reply_webhook(new, reply_delay_ms);
  end if;
  return null;
end;
$$;
revoke execute on function private.dispatch_ai_reply() from public;

-- Visitor messages only: AI and agent inserts can never start a loop.
create trigger dispatch_ai_reply
  after insert on public.messages
  for each row when (new.from_customer)
  execute function private.dispatch_ai_reply();
