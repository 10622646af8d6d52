-- The two calls the ai-responder Edge Function makes (supabase.rpc, service_role only).
-- Every rule (AI on? human took over? already answered? newer message waiting?) is
-- decided here, next to the data, in one transaction per call:
--   ai_reply_context(message_id): decide and claim, then hand over settings and history;
--   ai_post_reply(message_id, ...): re-check at that instant, post the reply, record usage.
-- Both are security invoker: service_role bypasses RLS already, and nobody else may call them.

-- Why no reply is due for a visitor message at this instant, or null if one is.
create function private.ai_reply_skip_reason(message public.messages)
returns text
language sql
stable
set search_path = ''
as $$
  select case
    when not p.ai_enabled then 'ai_disabled'
    when c.handed_off_to is not null then 'handed_off'
    when exists (select 1 from public.messages r where r.reply_to = message.id) then 'already_answered'
  end
  from public.conversations c
  join public.projects p on p.id = c.project_id
  where c.id = message.conversation_id
$$;

-- Whether a newer visitor message waits in the same conversation: its own webhook answers both.
create function private.has_newer_visitor_message(message public.messages)
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (
    select 1 from public.messages n
    where n.conversation_id = message.conversation_id
      and n.from_customer
      and (n.created_at, n.id) > (message.created_at, message.id)
  )
$$;

-- ============================================================================
-- ai_reply_context
-- ============================================================================
-- claim_seconds: how long this run holds the message. The function passes more than its LLM
-- deadline, so that a duplicate delivery stands back while it works, and a retry can take over
-- soon after a crashed run.
create function public.ai_reply_context(message_id uuid, claim_seconds integer default 60)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  visitor_message public.messages;
  project public.projects;
  skip_reason text;
  claimed boolean;
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
    set outcome = skip_reason, finished_at = now(), claimed_until = null
    where j.message_id = visitor_message.id and j.outcome is null and skip_reason <> 'already_answered';
    return jsonb_build_object('action', 'skip', 'reason', skip_reason);
  end if;

  -- Claim the message so that a duplicate delivery arriving now stands back.
  insert into public.ai_reply_jobs as j (message_id, conversation_id, last_dispatched_at, claimed_until)
  values (visitor_message.id, visitor_message.conversation_id, now(), now() + make_interval(secs => greatest(ai_reply_context.claim_seconds, 1)))
  on conflict on constraint ai_reply_jobs_pkey do update
    set claimed_until = excluded.claimed_until
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

  select coalesce(jsonb_agg(
           jsonb_build_object('from_customer', h.from_customer, 'content', h.content)
           order by h.created_at, h.id), '[]'::jsonb)
  into history
  from (
    select m.from_customer, m.content, m.created_at, m.id
    from public.messages m
    where m.conversation_id = visitor_message.conversation_id
    order by m.created_at desc, m.id desc
    limit project.ai_history_limit
  ) h;

  return jsonb_build_object(
    'action', 'reply',
    'conversation_id', visitor_message.conversation_id,
    'project', jsonb_build_object(
      'id', project.id,
      'name', project.name,
      'model', project.ai_model,
      'system_prompt', project.ai_system_prompt,
      'fallback_message', project.ai_fallback_message
    ),
    'history', history
  );
end;
$$;

comment on function public.ai_reply_context(uuid, integer) is 'For the ai-responder function: whether to answer a visitor message (claiming it if so), the project''s AI settings and the latest messages, oldest first.';

-- ============================================================================
-- ai_post_reply (content null: nothing to post, only the failure is recorded)
-- ============================================================================
create function public.ai_post_reply(
  message_id uuid,
  content text default null,
  model text default null,
  prompt_tokens integer default null,
  completion_tokens integer default null,
  llm_latency_ms integer default null,
  is_fallback boolean default false,
  error text default null
)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  visitor_message public.messages;
  skip_reason text;
  reply_id uuid;
begin
  select * into visitor_message from public.messages m where m.id = ai_post_reply.message_id and m.from_customer;
  if not found then
    return jsonb_build_object('posted', false, 'reason', 'message_not_found');
  end if;

  -- The LLM failed and the project has no fallback text: record why, release the claim,
  -- and leave the job open so that a later dispatch can try again.
  if ai_post_reply.content is null then
    update public.ai_reply_jobs j
    set claimed_until = null, model = ai_post_reply.model, llm_latency_ms = ai_post_reply.llm_latency_ms,
        error = ai_post_reply.error
    where j.message_id = visitor_message.id and j.outcome is null;
    return jsonb_build_object('posted', false, 'reason', 'no_content');
  end if;

  -- Serialises with agent takeovers, the sweeper and any other run answering this message; always
  -- the job first, then the conversation, as the sweeper locks them.
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

  -- Records this run, unless another already answered (its record stands). A reply that comes
  -- after the sweeper gave up still turns the job from failed to answered.
  update public.ai_reply_jobs j
  set outcome = case
        when skip_reason is null then case when ai_post_reply.is_fallback then 'fallback' else 'answered' end
        else skip_reason
      end,
      finished_at = now(),
      claimed_until = null,
      model = ai_post_reply.model,
      prompt_tokens = ai_post_reply.prompt_tokens,
      completion_tokens = ai_post_reply.completion_tokens,
      llm_latency_ms = ai_post_reply.llm_latency_ms,
      error = ai_post_reply.error
  where j.message_id = visitor_message.id
    and skip_reason is distinct from 'already_answered'
    and (j.outcome is null or (j.outcome = 'failed' and skip_reason is null));

  if skip_reason is not null then
    return jsonb_build_object('posted', false, 'reason', skip_reason);
  end if;
  return jsonb_build_object('posted', true, 'reply_id', reply_id);
end;
$$;

comment on function public.ai_post_reply(uuid, text, text, integer, integer, integer, boolean, text) is 'For the ai-responder function: post the AI reply to a visitor message unless the AI was switched off, a human took over or it was answered already; record usage.';

-- ============================================================================
-- Only the Edge Function (service_role) may call these.
-- ============================================================================
revoke execute on function private.ai_reply_skip_reason(public.messages), private.has_newer_visitor_message(public.messages) from public;
grant usage on schema private to service_role;
grant execute on function private.ai_reply_skip_reason(public.messages), private.has_newer_visitor_message(public.messages) to service_role;

revoke execute on function public.ai_reply_context(uuid, integer) from public, anon, authenticated;
revoke execute on function public.ai_post_reply(uuid, text, text, integer, integer, integer, boolean, text) from public, anon, authenticated;
grant execute on function public.ai_reply_context(uuid, integer) to service_role;
grant execute on function public.ai_post_reply(uuid, text, text, integer, integer, integer, boolean, text) to service_role;
