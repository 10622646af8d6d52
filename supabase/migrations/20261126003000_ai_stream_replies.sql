-- Streamed replies, a project setting: projects.ai_stream_replies (on by default) tells the
-- ai-responder function to ask Groq for a stream and to publish the reply's text as it grows
-- (Broadcast events `preview` on the conversation's private topic; see the next migration),
-- before it posts the reply row. Off: the function asks for the whole completion, as before,
-- and publishes no text, only the typing indicator.
-- ai_reply_context returns the setting (project.stream_replies); everything else it does is
-- unchanged from 20261126001600_guarded_ai_responder_api.sql (claims with tokens, reply cap,
-- daily budget, circuit breaker, history bounded in bytes).
-- No security definer function in this migration.

alter table public.projects
  add column ai_stream_replies boolean not null default true;

-- Admins change their projects' settings column by column (RLS decides whose projects).
grant update (ai_stream_replies) on public.projects to authenticated;

comment on column public.projects.ai_stream_replies is 'Show AI replies as they are written: the widget shows the text growing (Realtime Broadcast on the conversation''s private channel) and then the reply row. false: the reply appears whole when it is ready. The typing indicator shows either way.';

-- ============================================================================
-- ai_reply_context, now with project.stream_replies
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
      'max_completion_tokens', project.ai_max_completion_tokens,
      'stream_replies', project.ai_stream_replies
    ),
    'history', history
  );
end;
$$;

comment on function public.ai_reply_context(uuid, integer) is 'For the ai-responder function: whether to answer a visitor message (claiming it if so: claim_token), the project''s AI settings (stream_replies among them) and the latest messages that fit its prompt budget, oldest first. Hands the conversation over at the reply cap or the daily budget, and posts the fallback text while the circuit breaker is open.';

revoke execute on function public.ai_reply_context(uuid, integer) from public, anon, authenticated;
grant execute on function public.ai_reply_context(uuid, integer) to service_role;
