-- What one project's AI may spend, decided in SQL before any LLM call (ai_reply_context, next
-- migration) and metered after each one (ai_post_reply):
--   - a cap of AI replies per conversation: at the cap the AI hands the conversation over;
--   - a daily token budget (prompt + completion, as Groq reports them), per day in the
--     project's time zone: once spent, no LLM call for that project until the next day, and
--     each conversation that writes is handed over once;
--   - a circuit breaker: after ai_breaker_threshold consecutive LLM failures that retrying
--     cannot fix (bad API key, model gone, request too large), no LLM call for a cool-off;
--     the first call after it is a trial, and one more such failure opens it again;
--   - the prompt's size in tokens and the reply's, passed to Groq.
-- Usage per project and day is kept in private.ai_usage_daily and shown to admins in the view
-- public.ai_usage_daily (Table Editor / SQL editor; no API role may read it).
--
-- Security definer functions in this migration (each bypasses RLS on purpose):
--   private.record_ai_usage(...): called by ai_post_reply (service_role); writes usage and the
--     breaker's state, and pauses the project, none of which service_role may touch.
--   private.ai_spending_stop(project): called by ai_reply_context (service_role); reads usage.

-- ============================================================================
-- The limits, per project (Table Editor)
-- ============================================================================
alter table public.projects
  add column ai_max_replies_per_conversation integer not null default 30
    check (ai_max_replies_per_conversation between 1 and 100000),
  add column ai_daily_token_budget bigint default 2000000 check (ai_daily_token_budget > 0),
  add column ai_time_zone text not null default 'UTC'
    -- Refuses a name PostgreSQL does not know (the cast raises); the date itself is irrelevant.
    check ((timestamptz '2000-01-01 00:00+00' at time zone ai_time_zone) is not null),
  add column ai_max_prompt_tokens integer not null default 4000 check (ai_max_prompt_tokens between 1000 and 200000),
  add column ai_max_completion_tokens integer not null default 1024 check (ai_max_completion_tokens between 16 and 65536),
  add column ai_breaker_threshold integer not null default 3 check (ai_breaker_threshold between 1 and 100),
  add column ai_breaker_cool_off_seconds integer not null default 600 check (ai_breaker_cool_off_seconds between 10 and 86400),
  add column ai_paused_until timestamptz,
  add column ai_paused_reason text;

comment on column public.projects.ai_max_replies_per_conversation is 'Most AI replies in one conversation; at the cap the AI posts ai_handover_message once and stays silent there until a person takes over (conversations.awaiting_human_since).';
comment on column public.projects.ai_daily_token_budget is 'LLM tokens (prompt + completion, as Groq counts them) the AI may use per day (in ai_time_zone); once spent, no LLM call until the next day and each conversation that writes is handed over once. null: no limit. See the view ai_usage_daily.';
comment on column public.projects.ai_time_zone is 'Time zone whose midnight starts a new day for ai_daily_token_budget (e.g. Europe/Paris); default UTC.';
comment on column public.projects.ai_max_prompt_tokens is 'Upper bound of one LLM prompt, estimated from UTF-8 bytes (never fewer than the tokens): the system prompt and the newest messages are kept whole, older ones dropped.';
comment on column public.projects.ai_max_completion_tokens is 'Longest AI reply, in tokens (Groq max_completion_tokens; reasoning counts too). A reply cut at this length is trimmed to its last complete sentence and marked truncated in ai_reply_jobs.';
comment on column public.projects.ai_breaker_threshold is 'Circuit breaker: after this many consecutive LLM failures that retrying cannot fix (401/403 bad key, 404 or 400 model gone, 413 too large), the AI pauses for ai_breaker_cool_off_seconds.';
comment on column public.projects.ai_breaker_cool_off_seconds is 'Circuit breaker: how long the AI pauses once open (default 10 minutes). The next call after it is a trial: one more such failure pauses it again.';
comment on column public.projects.ai_paused_until is 'Set by the circuit breaker: no LLM call before this time; visitors get ai_fallback_message meanwhile. Set it to null to close the breaker at once (after fixing the key or model).';
comment on column public.projects.ai_paused_reason is 'Why the circuit breaker opened (the last LLM error), for admins.';

-- ============================================================================
-- Usage per project and day, and the breaker's count of consecutive failures
-- ============================================================================
create table private.ai_usage_daily (
  project_id uuid not null references public.projects (id) on delete cascade,
  day date not null,
  -- Each database connection adds to its own row (pg_backend_pid() % 16), so that concurrent
  -- replies of one project never wait for each other's lock on a single counter row.
  shard smallint not null default 0,
  calls integer not null default 0,
  prompt_tokens bigint not null default 0,
  completion_tokens bigint not null default 0,
  fallbacks integer not null default 0,
  failures integer not null default 0,
  paused_since timestamptz,
  primary key (project_id, day, shard)
);
alter table private.ai_usage_daily enable row level security;

comment on table private.ai_usage_daily is 'LLM calls and tokens per project and day (the project''s time zone), in up to 16 rows (shards) summed by the view ai_usage_daily; written by ai_post_reply; paused_since: when the daily budget first stopped a call that day.';

create table private.ai_failure_streaks (
  project_id uuid primary key references public.projects (id) on delete cascade,
  failures integer not null default 0,
  last_error text,
  updated_at timestamptz not null default now()
);
alter table private.ai_failure_streaks enable row level security;

comment on table private.ai_failure_streaks is 'Circuit breaker: consecutive LLM failures that retrying cannot fix, per project; a success resets it.';

-- ============================================================================
-- Metering (after each LLM call)
-- ============================================================================
create function private.record_ai_usage(
  project uuid,
  prompt_tokens integer,
  completion_tokens integer,
  is_fallback boolean,
  error text,
  failure_is_permanent boolean
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  settings public.projects;
  streak integer;
begin
  select * into settings from public.projects p where p.id = project;
  if not found then
    return;
  end if;

  if error is null then
    update private.ai_failure_streaks s set failures = 0, updated_at = now()
    where s.project_id = project and s.failures > 0;
  elsif failure_is_permanent then
    insert into private.ai_failure_streaks as s (project_id, failures, last_error)
    values (project, 1, error)
    on conflict (project_id) do update set failures = s.failures + 1, last_error = excluded.last_error, updated_at = now()
    returning s.failures into streak;
    if streak >= settings.ai_breaker_threshold then
      update public.projects p
      set ai_paused_until = now() + make_interval(secs => settings.ai_breaker_cool_off_seconds),
          ai_paused_reason = format('%s consecutive LLM failures that retrying cannot fix (last: %s)', streak, error)
      where p.id = project;
    end if;
  end if;

  -- Last, so that this connection's usage row stays locked only until the transaction commits.
  insert into private.ai_usage_daily as u (project_id, day, shard, calls, prompt_tokens, completion_tokens, fallbacks, failures)
  values (
    project, (now() at time zone settings.ai_time_zone)::date, pg_backend_pid() % 16, 1,
    coalesce(record_ai_usage.prompt_tokens, 0), coalesce(record_ai_usage.completion_tokens, 0),
    case when is_fallback then 1 else 0 end, case when error is not null then 1 else 0 end
  )
  on conflict (project_id, day, shard) do update
    set calls = u.calls + 1,
        prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = u.completion_tokens + excluded.completion_tokens,
        fallbacks = u.fallbacks + excluded.fallbacks,
        failures = u.failures + excluded.failures;
end;
$$;
revoke execute on function private.record_ai_usage(uuid, integer, integer, boolean, text, boolean) from public;
grant execute on function private.record_ai_usage(uuid, integer, integer, boolean, text, boolean) to service_role;

comment on function private.record_ai_usage(uuid, integer, integer, boolean, text, boolean) is 'After one LLM call: adds it to the project''s usage of the day, and counts a failure retrying cannot fix towards the circuit breaker (a success resets the count).';

-- ============================================================================
-- Checking (before each LLM call)
-- ============================================================================
create function private.ai_spending_stop(project public.projects)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  today date := (now() at time zone project.ai_time_zone)::date;
  used bigint;
begin
  if project.ai_daily_token_budget is not null then
    select sum(u.prompt_tokens + u.completion_tokens) into used
    from private.ai_usage_daily u where u.project_id = project.id and u.day = today;
    if used >= project.ai_daily_token_budget then
      insert into private.ai_usage_daily as u (project_id, day, shard, paused_since)
      values (project.id, today, 0, now())
      on conflict (project_id, day, shard) do update set paused_since = coalesce(u.paused_since, now())
      where u.paused_since is null;
      return 'daily_budget';
    end if;
  end if;
  if project.ai_paused_until > now() then
    return 'paused';
  end if;
  return null;
end;
$$;
revoke execute on function private.ai_spending_stop(public.projects) from public;
grant execute on function private.ai_spending_stop(public.projects) to service_role;

comment on function private.ai_spending_stop(public.projects) is 'Before an LLM call: daily_budget if the project spent its tokens for today (recording when it paused), paused while its circuit breaker is open, or null.';

-- ============================================================================
-- What admins see
-- ============================================================================
create view public.ai_usage_daily
with (security_invoker = true)
as
select
  u.project_id,
  p.name as project_name,
  u.day,
  sum(u.calls)::integer as calls,
  sum(u.prompt_tokens)::bigint as prompt_tokens,
  sum(u.completion_tokens)::bigint as completion_tokens,
  sum(u.prompt_tokens + u.completion_tokens)::bigint as tokens,
  p.ai_daily_token_budget as token_budget,
  sum(u.fallbacks)::integer as fallbacks,
  sum(u.failures)::integer as failures,
  min(u.paused_since) as paused_since
from private.ai_usage_daily u
join public.projects p on p.id = u.project_id
group by u.project_id, p.name, u.day, p.ai_daily_token_budget;

comment on view public.ai_usage_daily is 'LLM usage per project and day (the project''s ai_time_zone): calls, tokens, fallbacks posted, failed calls, and paused_since: when the daily budget first stopped the AI that day. For admins (Table Editor, SQL editor); no API role may read it. The circuit breaker''s state is projects.ai_paused_until and ai_paused_reason.';

revoke all on public.ai_usage_daily from public, anon, authenticated, service_role;
