-- The AI hands over to a person when it decides to: the ai-responder function offers the model
-- one tool, hand_over_to_human {reason}, for when the visitor asks for a person, is upset, or
-- (with ai_answer_only_from_knowledge) the knowledge does not cover the question. When the
-- model calls it (or makes a malformed call), the function calls ai_post_reply with
-- hand_over => true: the project's hand-over text is posted as the reply to the visitor's
-- message (reply_to, so the widget replaces its preview with it), the conversation records
-- awaiting_human_since and awaiting_human_reason (the model's reason), and the AI stays silent
-- there until an agent writes or the conversation is handed back, as with the reply cap
-- (20261126001200). The job's outcome is handed_over.
-- ai_post_reply also records which knowledge passages the prompt gave as sources
-- (ai_reply_jobs.knowledge_passage_ids), so an admin can see why the AI said what it said.
-- Everything else ai_post_reply does is unchanged from 20261126001600 (one call per LLM call:
-- post or record the failure, claims with tokens, metering, the breaker).
--
-- Security definer functions in this migration (each bypasses RLS on purpose):
--   private.hand_over_to_human(conversation, reason, in_reply_to): replaced (see
--     20261126001200), now able to post the text as the reply to a visitor message.

-- ============================================================================
-- Jobs: the sources used, and the new outcome
-- ============================================================================
alter table public.ai_reply_jobs add column knowledge_passage_ids uuid[];

comment on column public.ai_reply_jobs.knowledge_passage_ids is 'The knowledge passages given to the AI as sources for this reply, best match first: select * from private.knowledge_passages where id = any (knowledge_passage_ids). Empty: no passage matched; null: no LLM call was made.';

grant update (knowledge_passage_ids) on public.ai_reply_jobs to service_role;

alter table public.ai_reply_jobs drop constraint ai_reply_jobs_outcome_check;
alter table public.ai_reply_jobs add constraint ai_reply_jobs_outcome_check check (outcome in (
  'answered', 'fallback', 'ai_disabled', 'handed_off', 'superseded', 'failed',
  'awaiting_human', 'reply_cap', 'daily_budget', 'paused', 'agent_online', 'handed_over'
));
comment on column public.ai_reply_jobs.outcome is 'null while open; answered or fallback once a reply is posted; handed_over when the AI chose to hand the conversation over to a person (conversations.awaiting_human_reason says why); ai_disabled, handed_off, awaiting_human, agent_online (ai_mode when_no_agent_online and an agent came online) or superseded (a newer visitor message got the answer) when no reply was due; reply_cap or daily_budget when this message made the AI hand the conversation over; paused when the project''s circuit breaker was open (the fallback text is posted if the project has one); failed when retries ran out (the fallback text is posted if the project has one).';

-- ============================================================================
-- Handing over, optionally as the reply to a visitor message
-- ============================================================================
drop function private.hand_over_to_human(uuid, text);

create function private.hand_over_to_human(conversation uuid, reason text, in_reply_to uuid default null)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  project uuid;
  handover text;
begin
  update public.conversations c
  set awaiting_human_since = now(), awaiting_human_reason = reason
  where c.id = conversation and c.awaiting_human_since is null and c.handed_off_to is null
  returning c.project_id into project;
  if project is null then
    return false; -- already waiting for, or with, a person: the text was posted once already
  end if;

  select p.ai_handover_message into handover from public.projects p where p.id = project;
  if handover is not null then
    insert into public.messages (conversation_id, sender_id, from_customer, content, reply_to)
    values (conversation, 'AI_BOT', false, handover, in_reply_to)
    on conflict (reply_to) do nothing;
  end if;
  return true;
end;
$$;
revoke execute on function private.hand_over_to_human(uuid, text, uuid) from public;
grant execute on function private.hand_over_to_human(uuid, text, uuid) to service_role;

comment on function private.hand_over_to_human(uuid, text, uuid) is 'Marks a conversation as waiting for a person (the AI stays silent there) and posts the project''s hand-over text, once (as the reply to in_reply_to when given): true if it handed over now, false if the conversation already waited for or was with a person.';

-- ============================================================================
-- ai_post_reply: hand_over, hand_over_reason and knowledge_passage_ids
-- ============================================================================
drop function public.ai_post_reply(uuid, text, text, integer, integer, integer, boolean, text, uuid, boolean, boolean);

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
  truncated boolean default false,
  hand_over boolean default false,
  hand_over_reason text default null,
  knowledge_passage_ids uuid[] default null
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

  if ai_post_reply.content is null and not ai_post_reply.hand_over then
    -- The LLM failed and the project has no fallback text: record why, release this run's own
    -- claim, and leave the job open so that a later dispatch can try again.
    update public.ai_reply_jobs j
    set claimed_until = null, claim_token = null, model = ai_post_reply.model,
        llm_latency_ms = ai_post_reply.llm_latency_ms, error = ai_post_reply.error,
        knowledge_passage_ids = ai_post_reply.knowledge_passage_ids
    where j.message_id = visitor_message.id and j.outcome is null
      and j.claim_token = ai_post_reply.claim_token;
    result := jsonb_build_object('posted', false, 'reason', 'no_content');
  else
    -- Serialises with agent takeovers, the sweeper and any other run answering this message;
    -- always the job first, then the conversation, as the sweeper locks them.
    perform 1 from public.ai_reply_jobs j where j.message_id = visitor_message.id for update;
    perform 1 from public.conversations c where c.id = visitor_message.conversation_id for update;

    skip_reason := private.ai_reply_skip_reason(visitor_message);
    if skip_reason is null and ai_post_reply.hand_over then
      -- The project's hand-over text as the reply; the model's reason for the agents' inbox.
      perform private.hand_over_to_human(visitor_message.conversation_id,
        coalesce(nullif(left(btrim(ai_post_reply.hand_over_reason), 200), ''), 'asked by the AI'),
        visitor_message.id);
      select r.id into reply_id from public.messages r where r.reply_to = visitor_message.id;
    elsif skip_reason is null then
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
          when skip_reason is null then case when ai_post_reply.hand_over then 'handed_over'
                                             when ai_post_reply.is_fallback then 'fallback' else 'answered' end
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
        truncated = ai_post_reply.truncated,
        knowledge_passage_ids = ai_post_reply.knowledge_passage_ids
    where j.message_id = visitor_message.id
      and skip_reason is distinct from 'already_answered'
      and (j.outcome is null or (j.outcome = 'failed' and skip_reason is null))
      and (skip_reason is null or j.claim_token is null or j.claim_token = ai_post_reply.claim_token
           or j.claimed_until < now());

    result := case when skip_reason is null and ai_post_reply.hand_over
                     then jsonb_build_object('posted', true, 'reply_id', reply_id, 'handed_over', true)
                   when skip_reason is null then jsonb_build_object('posted', true, 'reply_id', reply_id)
                   else jsonb_build_object('posted', false, 'reason', skip_reason) end;
  end if;

  -- Every call follows one LLM call (or its failure): meter it, last (see record_ai_usage).
  perform private.record_ai_usage(project_id, ai_post_reply.prompt_tokens, ai_post_reply.completion_tokens,
    ai_post_reply.is_fallback and ai_post_reply.content is not null, ai_post_reply.error, ai_post_reply.failure_is_permanent);
  return result;
end;
$$;

comment on function public.ai_post_reply(uuid, text, text, integer, integer, integer, boolean, text, uuid, boolean, boolean, boolean, text, uuid[]) is 'For the ai-responder function: post the AI reply to a visitor message (or, with hand_over, the project''s hand-over text, marking the conversation as waiting for a person with hand_over_reason) unless the AI was switched off, a person took over or is awaited, or it was answered already; record the knowledge passages used and the LLM call''s usage (and a failure retrying cannot fix, for the circuit breaker). Releases only the claim named by claim_token.';

revoke execute on function public.ai_post_reply(uuid, text, text, integer, integer, integer, boolean, text, uuid, boolean, boolean, boolean, text, uuid[]) from public, anon, authenticated;
grant execute on function public.ai_post_reply(uuid, text, text, integer, integer, integer, boolean, text, uuid, boolean, boolean, boolean, text, uuid[]) to service_role;
