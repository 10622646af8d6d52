-- The function's SQL API with the guardrails:
--   ai_reply_context: before any LLM call, the reply cap, the daily budget and the circuit
--     breaker (hand over, hand over, fallback text); history bounded by the prompt budget in
--     UTF-8 bytes (never fewer than the tokens), newest first; a claim with an owner.
--   ai_post_reply: meters each LLM call (usage, breaker), records a reply cut at the token
--     limit as truncated, and releases or overwrites a claim only with its own token.
--   ai_release_claims: gives back only the claims the retiring instance owns.
-- Claims with an owner: a run that outlived its claim (the LLM took longer than the claim) can
-- no longer release the claim of the run that took over, which would let a third delivery make
-- another LLM call at the same time. Its reply, if it gets one, is still posted at most once
-- (unique messages.reply_to).
-- All three are security invoker: service_role bypasses RLS already, and nobody else may call them.

alter table public.ai_reply_jobs
  add column claim_token uuid,
  add column truncated boolean not null default false;

comment on column public.ai_reply_jobs.claim_token is 'Which run holds the claim (returned by ai_reply_context): only that run may release it or record a failure against it.';
comment on column public.ai_reply_jobs.truncated is 'The LLM stopped at ai_max_completion_tokens; the reply was trimmed to its last complete sentence.';

grant insert (claim_token) on public.ai_reply_jobs to service_role;
grant update (claim_token, truncated) on public.ai_reply_jobs to service_role;

-- Octets a message costs in the prompt beyond its text (role and chat-template tokens).
create function private.prompt_overhead_bytes()
returns integer
language sql
immutable
set search_path = ''
as $$ select 8 $$;
revoke execute on function private.prompt_overhead_bytes() from public;
grant execute on function private.prompt_overhead_bytes() to service_role;

-- The longest prefix of content of at most max_bytes UTF-8 bytes (whole characters).
create function private.cut_to_bytes(content text, max_bytes integer)
returns text
language plpgsql
immutable
set search_path = ''
as $$
declare
  keep integer := least(char_length(content), greatest(max_bytes, 0));
  over integer;
begin
  loop
    over := octet_length(left(content, keep)) - max_bytes;
    exit when over <= 0;
    keep := keep - greatest(over / 4, 1);
  end loop;
  return left(content, keep);
end;
$$;
revoke execute on function private.cut_to_bytes(text, integer) from public;
grant execute on function private.cut_to_bytes(text, integer) to service_role;

-- ============================================================================
-- ai_reply_context
-- ============================================================================
create or replace function public.ai_reply_context(message_id uuid, claim_seconds integer default 60)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  visitor_message public.messages;
  project public.projects;
  skip_reason text;
  claim uuid := gen_random_uuid();
  claimed boolean;
  replies integer;
  budget_bytes integer;
  history jsonb;
begin
  select * into visitor_message from public.messages m where m.id = ai_reply_context.message_id;
  if not found then
    return jsonb_build_object('action', 'skip', 'reason', 'message_not_found');
  end if;
  if not visitor_message.from_customer then
    return jsonb_build_object('action', 'skip', 'reason', 'not_a_visitor_message');
  end if;

  skip_reason := private.ai_reply_skip_reason(visitor_message);
  if skip_reason is null and private.has_newer_visitor_message(visitor_message) then
    skip_reason := 'superseded';
  end if;

  if skip_reason is not null then
    update public.ai_reply_jobs j
    set outcome = skip_reason, finished_at = now(), claimed_until = null, claim_token = null
    where j.message_id = visitor_message.id and j.outcome is null and skip_reason <> 'already_answered';
    return jsonb_build_object('action', 'skip', 'reason', skip_reason);
  end if;

  -- Claim the message so that a duplicate delivery arriving now stands back.
  insert into public.ai_reply_jobs as j (message_id, conversation_id, last_dispatched_at, claimed_until, claim_token)
  values (visitor_message.id, visitor_message.conversation_id, now(),
          now() + make_interval(secs => greatest(ai_reply_context.claim_seconds, 1)), claim)
  on conflict on constraint ai_reply_jobs_pkey do update
    set claimed_until = excluded.claimed_until, claim_token = excluded.claim_token
    -- Re-read at the instant of claiming: another run may have finished since the checks above.
    where j.outcome is null and (j.claimed_until is null or j.claimed_until < now())
  returning true into claimed;
  if claimed is null then
    return jsonb_build_object('action', 'skip', 'reason', case
      when exists (select 1 from public.ai_reply_jobs j where j.message_id = visitor_message.id and j.outcome is not null)
      then 'already_handled' else 'in_progress' end);
  end if;

  select p.* into project
  from public.conversations c join public.projects p on p.id = c.project_id
  where c.id = visitor_message.conversation_id;

  -- Spending, before any LLM call: the conversation's cap, the day's budget, the breaker.
  -- Counted up to the cap only: a long conversation costs no more than one at the cap.
  select count(*) into replies
  from (
    select 1 from public.messages r
    where r.conversation_id = visitor_message.conversation_id and r.sender_id = 'AI_BOT' and r.reply_to is not null
    limit project.ai_max_replies_per_conversation
  ) capped;
  skip_reason := case when replies >= project.ai_max_replies_per_conversation then 'reply_cap'
                      else private.ai_spending_stop(project) end;
  if skip_reason is not null then
    if skip_reason = 'paused' then
      -- Retrying cannot help before an admin fixes the key or model: the fallback text at once.
      if project.ai_fallback_message is not null then
        insert into public.messages (conversation_id, sender_id, from_customer, content, reply_to)
        values (visitor_message.conversation_id, 'AI_BOT', false, project.ai_fallback_message, visitor_message.id)
        on conflict (reply_to) do nothing;
      end if;
    else
      perform private.hand_over_to_human(visitor_message.conversation_id, skip_reason);
    end if;
    update public.ai_reply_jobs j
    set outcome = skip_reason, finished_at = now(), claimed_until = null, claim_token = null,
        error = case when skip_reason = 'paused' then project.ai_paused_reason else j.error end
    where j.message_id = visitor_message.id;
    return jsonb_build_object('action', 'skip', 'reason', skip_reason);
  end if;

  -- The prompt budget in octets (a byte-level BPE token is at least one byte): what the system
  -- prompt leaves (the default one is about 450 bytes plus the project's name twice).
  budget_bytes := project.ai_max_prompt_tokens - private.prompt_overhead_bytes()
    - coalesce(octet_length(project.ai_system_prompt), 512 + 2 * octet_length(project.name));

  -- Newest first by cumulative size: the newest message always (cut to the budget if it alone
  -- exceeds it), then older ones whole while they fit.
  select coalesce(jsonb_agg(
           jsonb_build_object('from_customer', h.from_customer,
             'content', case when h.n = 1 then private.cut_to_bytes(h.content, greatest(budget_bytes - private.prompt_overhead_bytes(), 256)) else h.content end)
           order by h.created_at, h.id), '[]'::jsonb)
  into history
  from (
    select l.*,
           row_number() over newest_first as n,
           sum(octet_length(l.content) + private.prompt_overhead_bytes()) over newest_first as used
    from (
      select m.from_customer, m.content, m.created_at, m.id
      from public.messages m
      where m.conversation_id = visitor_message.conversation_id
      order by m.created_at desc, m.id desc
      limit project.ai_history_limit
    ) l
    window newest_first as (order by l.created_at desc, l.id desc rows unbounded preceding)
  ) h
  where h.n = 1 or h.used <= budget_bytes;

  return jsonb_build_object(
    'action', 'reply',
    'conversation_id', visitor_message.conversation_id,
    'claim_token', claim,
    'project', jsonb_build_object(
      'id', project.id,
      'name', project.name,
      'model', project.ai_model,
      'system_prompt', project.ai_system_prompt,
      'fallback_message', project.ai_fallback_message,
      'max_prompt_tokens', project.ai_max_prompt_tokens,
      'max_completion_tokens', project.ai_max_completion_tokens
    ),
    'history', history
  );
end;
$$;

comment on function public.ai_reply_context(uuid, integer) is 'For the ai-responder function: whether to answer a visitor message (claiming it if so: claim_token), the project''s AI settings and the latest messages that fit its prompt budget, oldest first. Hands the conversation over at the reply cap or the daily budget, and posts the fallback text while the circuit breaker is open.';

-- ============================================================================
-- ai_post_reply (content null: nothing to post, only the failure is recorded)
-- ============================================================================
drop function public.ai_post_reply(uuid, text, text, integer, integer, integer, boolean, text);

create function public.ai_post_reply(
  message_id uuid,
  content text default null,
  model text default null,
  prompt_tokens integer default null,
  completion_tokens integer default null,
  llm_latency_ms integer default null,
  is_fallback boolean default false,
  error text default null,
  claim_token uuid default null,
  failure_is_permanent boolean default false,
  truncated boolean default false
)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  visitor_message public.messages;
  project_id uuid;
  skip_reason text;
  reply_id uuid;
  result jsonb;
begin
  select * into visitor_message from public.messages m where m.id = ai_post_reply.message_id and m.from_customer;
  if not found then
    return jsonb_build_object('posted', false, 'reason', 'message_not_found');
  end if;
  select c.project_id into project_id from public.conversations c where c.id = visitor_message.conversation_id;

  if ai_post_reply.content is null then
    -- The LLM failed and the project has no fallback text: record why, release this run's own
    -- claim, and leave the job open so that a later dispatch can try again.
    update public.ai_reply_jobs j
    set claimed_until = null, claim_token = null, model = ai_post_reply.model,
        llm_latency_ms = ai_post_reply.llm_latency_ms, error = ai_post_reply.error
    where j.message_id = visitor_message.id and j.outcome is null
      and j.claim_token = ai_post_reply.claim_token;
    result := jsonb_build_object('posted', false, 'reason', 'no_content');
  else
    -- Serialises with agent takeovers, the sweeper and any other run answering this message;
    -- always the job first, then the conversation, as the sweeper locks them.
    perform 1 from public.ai_reply_jobs j where j.message_id = visitor_message.id for update;
    perform 1 from public.conversations c where c.id = visitor_message.conversation_id for update;

    skip_reason := private.ai_reply_skip_reason(visitor_message);
    if skip_reason is null then
      insert into public.messages (conversation_id, sender_id, from_customer, content, reply_to)
      values (visitor_message.conversation_id, 'AI_BOT', false, left(ai_post_reply.content, 4000), visitor_message.id)
      on conflict (reply_to) do nothing
      returning id into reply_id;
      if reply_id is null then
        skip_reason := 'already_answered';
      end if;
    end if;

    -- Records this run, unless another already answered (its record stands) or, when nothing
    -- was posted, another run holds a live claim. A reply that comes after the sweeper gave up
    -- still turns the job from failed to answered.
    update public.ai_reply_jobs j
    set outcome = case
          when skip_reason is null then case when ai_post_reply.is_fallback then 'fallback' else 'answered' end
          else skip_reason
        end,
        finished_at = now(),
        claimed_until = null,
        claim_token = null,
        model = ai_post_reply.model,
        prompt_tokens = ai_post_reply.prompt_tokens,
        completion_tokens = ai_post_reply.completion_tokens,
        llm_latency_ms = ai_post_reply.llm_latency_ms,
        error = ai_post_reply.error,
        truncated = ai_post_reply.truncated
    where j.message_id = visitor_message.id
      and skip_reason is distinct from 'already_answered'
      and (j.outcome is null or (j.outcome = 'failed' and skip_reason is null))
      and (skip_reason is null or j.claim_token is null or j.claim_token = ai_post_reply.claim_token
           or j.claimed_until < now());

    result := case when skip_reason is null then jsonb_build_object('posted', true, 'reply_id', reply_id)
                   else jsonb_build_object('posted', false, 'reason', skip_reason) end;
  end if;

  -- Every call follows one LLM call (or its failure): meter it, last (see record_ai_usage).
  perform private.record_ai_usage(project_id, ai_post_reply.prompt_tokens, ai_post_reply.completion_tokens,
    ai_post_reply.is_fallback and ai_post_reply.content is not null, ai_post_reply.error, ai_post_reply.failure_is_permanent);
  return result;
end;
$$;

comment on function public.ai_post_reply(uuid, text, text, integer, integer, integer, boolean, text, uuid, boolean, boolean) is 'For the ai-responder function: post the AI reply to a visitor message unless the AI was switched off, a person took over or is awaited, or it was answered already; record the LLM call''s usage (and a failure retrying cannot fix, for the circuit breaker). Releases only the claim named by claim_token.';

-- ============================================================================
-- ai_release_claims: only the claims the caller owns
-- ============================================================================
drop function public.ai_release_claims(uuid[]);

create function public.ai_release_claims(claim_tokens uuid[])
returns integer
language sql
security invoker
set search_path = ''
as $$
  with released as (
    update public.ai_reply_jobs j
    set claimed_until = null, claim_token = null, released_at = now()
    where j.claim_token = any (ai_release_claims.claim_tokens)
      and j.outcome is null
      and j.claimed_until > now()
    returning 1
  )
  select count(*)::integer from released
$$;

comment on function public.ai_release_claims(uuid[]) is 'For the ai-responder function when its instance retires: gives back the claims it holds (by their claim tokens), so that the retry sweeper sends those messages again at once. Returns how many were released.';

-- ============================================================================
-- Only the Edge Function (service_role) may call these.
-- ============================================================================
revoke execute on function public.ai_reply_context(uuid, integer) from public, anon, authenticated;
revoke execute on function public.ai_post_reply(uuid, text, text, integer, integer, integer, boolean, text, uuid, boolean, boolean) from public, anon, authenticated;
revoke execute on function public.ai_release_claims(uuid[]) from public, anon, authenticated;
grant execute on function public.ai_reply_context(uuid, integer) to service_role;
grant execute on function public.ai_post_reply(uuid, text, text, integer, integer, integer, boolean, text, uuid, boolean, boolean) to service_role;
grant execute on function public.ai_release_claims(uuid[]) to service_role;
