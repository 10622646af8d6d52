-- Edge Function workers retire (wall clock: 150 s free, 400 s paid; CPU, memory; deploys) and
-- their background work dies with them. A retiring ai-responder instance gives back the claims of
-- the messages it was answering (ai_release_claims, on the runtime's beforeunload event), and
-- the retry sweeper re-sends those at its next pass instead of waiting out the claim and the
-- backoff. Also: pg_cron's run log (cron.job_run_details) is never trimmed by Supabase; the
-- sweeper alone adds 17,280 rows a day, so an hourly job keeps the last day of it.
--
-- Security definer functions in this migration: private.retry_unanswered_ai_replies (replaced;
-- see 20261124000400) and private.send_ai_reply_webhook (replaced; see 20261124000200).

alter table public.ai_reply_jobs add column released_at timestamptz;
comment on column public.ai_reply_jobs.released_at is 'When a retiring function instance gave this message back unanswered; the retry sweeper re-sends it at its next pass. Cleared by the next dispatch.';

-- ============================================================================
-- ai_release_claims (service_role only, like the function's other calls)
-- ============================================================================
create function public.ai_release_claims(message_ids uuid[])
returns integer
language sql
security invoker
set search_path = ''
as $$
  with released as (
    update public.ai_reply_jobs j
    set claimed_until = null, released_at = now()
    where j.message_id = any (ai_release_claims.message_ids)
      and j.outcome is null
      and j.claimed_until > now()
    returning 1
  )
  select count(*)::integer from released
$$;

comment on function public.ai_release_claims(uuid[]) is 'For the ai-responder function when its instance retires: gives back the claims of the messages it was answering, so that the retry sweeper sends them again at once. Returns how many were released.';

revoke execute on function public.ai_release_claims(uuid[]) from public, anon, authenticated;
grant execute on function public.ai_release_claims(uuid[]) to service_role;
grant update (released_at) on public.ai_reply_jobs to service_role;

-- ============================================================================
-- The dispatch clears a release; the sweeper treats a released job as due
-- ============================================================================
create or replace function private.send_ai_reply_webhook(message public.messages, reply_delay_ms integer)
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
        last_request_id = request_id,
        released_at = null;

  return request_id;
end;
$$;
revoke execute on function private.send_ai_reply_webhook(public.messages, integer) from public;

create or replace function private.retry_unanswered_ai_replies(
  grace interval default interval '10 seconds',
  max_dispatches integer default 5
)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  job record;
  verdict text;
  sent integer := 0;
begin
  for job in
    select j.message_id, j.dispatch_count, m as message, p.ai_reply_delay_ms, p.ai_fallback_message,
           private.ai_reply_skip_reason(m) as skip_reason,
           private.has_newer_visitor_message(m) as superseded
    from public.ai_reply_jobs j
    join public.messages m on m.id = j.message_id
    join public.conversations c on c.id = m.conversation_id
    join public.projects p on p.id = c.project_id
    where j.outcome is null
      and (j.claimed_until is null or j.claimed_until < now())
      and (
        -- Given back by a retiring function instance: due at once.
        j.released_at is not null
        -- Backoff: grace after the first dispatch, then twice as long each time, at most 5 minutes.
        or j.last_dispatched_at < now() - least(grace * power(2, greatest(j.dispatch_count - 1, 0)), interval '5 minutes')
      )
    order by j.last_dispatched_at
    limit 200
    for update of j skip locked
  loop
    verdict := case
      when job.skip_reason = 'already_answered' then 'answered'
      when job.skip_reason is not null then job.skip_reason
      when job.superseded then 'superseded'
      when job.dispatch_count >= max_dispatches then 'failed'
    end;

    if verdict is null then
      perform private.send_ai_reply_webhook(job.message, job.ai_reply_delay_ms);
      sent := sent + 1;
      continue;
    end if;

    if verdict = 'failed' and job.ai_fallback_message is not null then
      -- Locks in ai_post_reply's order (job, then conversation), then re-checks at this instant:
      -- an agent may have taken over, or a late run answered, since the loop's query.
      perform 1 from public.conversations c where c.id = (job.message).conversation_id for update;
      verdict := private.ai_reply_skip_reason(job.message);
      verdict := case verdict when 'already_answered' then 'answered' else coalesce(verdict, 'failed') end;
      if verdict = 'failed' then
        insert into public.messages (conversation_id, sender_id, from_customer, content, reply_to)
        values ((job.message).conversation_id, 'AI_BOT', false, job.ai_fallback_message, job.message_id)
        on conflict (reply_to) do nothing;
      end if;
    end if;

    update public.ai_reply_jobs j
    set outcome = verdict,
        finished_at = now(),
        error = case when verdict = 'failed'
          then concat_ws('; ', j.error, format('no reply after %s dispatches', j.dispatch_count)
            || case when job.ai_fallback_message is not null then ', fallback posted' else '' end)
          else j.error end
    where j.message_id = job.message_id;
  end loop;
  return sent;
end;
$$;
revoke execute on function private.retry_unanswered_ai_replies(interval, integer) from public;

-- ============================================================================
-- Keep one day of pg_cron's run log (Supabase never trims it)
-- ============================================================================
create function private.trim_cron_run_details(keep interval default interval '1 day')
returns integer
language sql
security invoker
set search_path = ''
as $$
  with trimmed as (
    delete from cron.job_run_details d where d.end_time < now() - trim_cron_run_details.keep returning 1
  )
  select count(*)::integer from trimmed
$$;
revoke execute on function private.trim_cron_run_details(interval) from public;

comment on function private.trim_cron_run_details(interval) is 'Deletes pg_cron run log rows that ended more than keep ago (scheduled hourly). Returns how many.';

select cron.schedule('trim-cron-run-details', '17 * * * *', $$select private.trim_cron_run_details()$$);
