-- Answers from the customer's knowledge: ai_reply_context retrieves the passages of the
-- project's knowledge base that match the visitor's messages of the turn (those since the last
-- answer), ranked by PostgreSQL full-text search (ts_rank_cd: a match in a title counts 2.5
-- times one in the text), the best first while they fit projects.ai_knowledge_max_tokens, and
-- returns them with the context, so an answered message still costs two database calls.
-- projects.ai_answer_only_from_knowledge makes the AI answer only from them.
-- Retrieval is one function, private.retrieve_knowledge(project, question, budget), returning
-- rows: a vector ranking (pgvector, embeddings made by an Edge Function) can later be blended
-- in inside it without changing ai_reply_context or the Edge Function (README).
-- Everything else ai_reply_context does is unchanged from
-- 20261126001600_guarded_ai_responder_api.sql (claims with tokens, reply cap, daily budget,
-- circuit breaker, history bounded in bytes); it also returns project.stream_replies, the
-- setting added by 20261126003000_ai_stream_replies.sql.
--
-- Security definer functions in this migration (each bypasses RLS on purpose):
--   private.retrieve_knowledge(project, question, budget): called by ai_reply_context
--     (service_role); reads private.knowledge_passages, which no API role may.

-- ============================================================================
-- Settings (Table Editor; admins through the API, as the other AI settings)
-- ============================================================================
alter table public.projects
  add column ai_knowledge_max_tokens integer not null default 2000
    check (ai_knowledge_max_tokens between 0 and 100000),
  add column ai_answer_only_from_knowledge boolean not null default false;

comment on column public.projects.ai_knowledge_max_tokens is 'Room for knowledge-base passages in each prompt, in tokens estimated from UTF-8 bytes (at most half of ai_max_prompt_tokens is used); the best-matching passages that fit are given to the AI as sources. 0: no knowledge.';
comment on column public.projects.ai_answer_only_from_knowledge is 'true: the AI answers only from the knowledge base; when it does not cover the question the AI says it does not know and offers a person (hand_over_to_human). false: it may also answer from its instructions and general knowledge.';

grant update (ai_knowledge_max_tokens, ai_answer_only_from_knowledge, knowledge_ts_config) on public.projects to authenticated;

-- ============================================================================
-- Retrieval
-- ============================================================================
-- Octets one source costs in the prompt: its title, URL and text, and the framing around them
-- ("[n] ", "URL: ", newlines); the function's prompt.ts uses the same figure.
create function private.knowledge_source_bytes(title text, url text, content text)
returns integer
language sql
immutable
set search_path = ''
as $$
  select octet_length(title) + coalesce(octet_length(url), 0) + octet_length(content) + 16
$$;
revoke execute on function private.knowledge_source_bytes(text, text, text) from public;
grant execute on function private.knowledge_source_bytes(text, text, text) to service_role;

-- The question's words OR-ed (a chat question rarely contains every word of the answer):
-- each lexeme of to_tsvector, quoted as tsquery input quotes it, at most 32 of them.
create function private.knowledge_query(config regconfig, question text)
returns tsquery
language sql
immutable
set search_path = ''
as $$
  select string_agg('''' || replace(replace(l.lexeme, '\', '\\'), '''', '''''') || '''', ' | ')::tsquery
  from (
    select v.lexeme from unnest(to_tsvector(config, coalesce(question, ''))) v
    order by v.positions[1]
    limit 32
  ) l
$$;
revoke execute on function private.knowledge_query(regconfig, text) from public;

comment on function private.knowledge_query(regconfig, text) is 'The words of a question as a tsquery that matches any of them (stop words removed and stemmed by config); null when none is left.';

create function private.retrieve_knowledge(project_id uuid, query_text text, budget_bytes integer)
returns table (id uuid, article_id uuid, title text, url text, content text, rank real)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  question tsquery;
begin
  -- The tsquery first, so that the search below is planned with its value (a constant), not
  -- as a join with a one-row subquery that the planner cannot see into.
  select private.knowledge_query(p.knowledge_ts_config, left(retrieve_knowledge.query_text, 2000))
  into question
  from public.projects p
  where p.id = retrieve_knowledge.project_id;
  if question is null then
    return;
  end if;

  return query
  with ranked as (
    select k.id, k.article_id, k.title, k.url, k.body,
           ts_rank_cd(k.search_vector, question) as rank
    from private.knowledge_passages k
    where k.project_id = retrieve_knowledge.project_id and k.search_vector @@ question
    order by 6 desc, k.id
    limit 20
  ),
  fitted as (
    select r.*, sum(private.knowledge_source_bytes(r.title, r.url, r.body))
             over (order by r.rank desc, r.id rows unbounded preceding) as used
    from ranked r
  )
  select f.id, f.article_id, f.title, f.url, f.body, f.rank
  from fitted f
  where f.used <= retrieve_knowledge.budget_bytes
  order by f.rank desc, f.id;
end;
$$;
revoke execute on function private.retrieve_knowledge(uuid, text, integer) from public;
grant execute on function private.retrieve_knowledge(uuid, text, integer) to service_role;

comment on function private.retrieve_knowledge(uuid, text, integer) is 'The project''s knowledge passages that best match query_text (full-text search in the project''s knowledge_ts_config; titles weigh more), best first, as many as fit budget_bytes (title, URL and text). Only enabled articles have passages.';

-- ============================================================================
-- ai_reply_context, now with knowledge and project.answer_only_from_knowledge
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
  question text;
  knowledge jsonb := '[]'::jsonb;
  knowledge_bytes integer := 0;
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

  -- The customer's knowledge: passages matching the visitor's messages of this turn (those
  -- since the last answer, at most 5), within the knowledge budget (at most half the prompt's).
  if project.ai_knowledge_max_tokens > 0 then
    select string_agg(t.content, E'\n' order by t.created_at, t.id) into question
    from (
      select m.content, m.created_at, m.id
      from public.messages m
      where m.conversation_id = visitor_message.conversation_id
        and m.from_customer
        and (m.created_at, m.id) <= (visitor_message.created_at, visitor_message.id)
        and m.created_at > coalesce((
          select r.created_at from public.messages r
          where r.conversation_id = visitor_message.conversation_id and not r.from_customer
            and r.created_at <= visitor_message.created_at
          order by r.created_at desc, r.id desc
          limit 1
        ), '-infinity')
      order by m.created_at desc, m.id desc
      limit 5
    ) t;
    select coalesce(jsonb_agg(jsonb_build_object('id', k.id, 'title', k.title, 'url', k.url, 'content', k.content)
                              order by k.rank desc, k.id), '[]'::jsonb),
           coalesce(sum(private.knowledge_source_bytes(k.title, k.url, k.content)), 0)
    into knowledge, knowledge_bytes
    from private.retrieve_knowledge(project.id, question,
      least(project.ai_knowledge_max_tokens, project.ai_max_prompt_tokens / 2)) k;
  end if;
  -- The sources and the instructions about them (about 600 bytes) leave less for the history.
  budget_bytes := budget_bytes - knowledge_bytes
    - case when knowledge_bytes > 0 or project.ai_answer_only_from_knowledge then 600 else 0 end;

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
      'stream_replies', project.ai_stream_replies,
      'answer_only_from_knowledge', project.ai_answer_only_from_knowledge
    ),
    'history', history,
    'knowledge', knowledge
  );
end;
$$;

comment on function public.ai_reply_context(uuid, integer) is 'For the ai-responder function: whether to answer a visitor message (claiming it if so: claim_token), the project''s AI settings (stream_replies and answer_only_from_knowledge among them), the latest messages that fit its prompt budget, oldest first, and the knowledge passages matching the visitor''s messages of the turn (knowledge: id, title, url, content). Hands the conversation over at the reply cap or the daily budget, and posts the fallback text while the circuit breaker is open.';

revoke execute on function public.ai_reply_context(uuid, integer) from public, anon, authenticated;
grant execute on function public.ai_reply_context(uuid, integer) to service_role;
