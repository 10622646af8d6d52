-- Durable delivery: Database Webhooks are fire-and-forget (pg_net never retries, keeps its
-- queue in unlogged tables), and a function instance can die mid-answer. Every few seconds,
-- pg_cron runs a sweeper that finds visitor messages still owed an answer and sends their
-- webhook again, with exponential backoff; after a bounded number of attempts it gives up,
-- posts the project's fallback text if it has one, and marks the job failed for admins.
-- Idempotency stays in ai_reply_context (claim) and the unique reply per visitor message:
-- whatever the trigger and the sweeper both send, one reply at most.
--
-- Security definer functions in this migration (each bypasses RLS on purpose):
--   private.retry_unanswered_ai_replies(grace, max_dispatches): run by pg_cron; reads and
--     updates jobs, and posts fallback replies.

create extension if not exists pg_cron with schema pg_catalog;

create function private.retry_unanswered_ai_replies(
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
      -- Backoff: grace after the first dispatch, then twice as long each time, at most 5 minutes.
      and j.last_dispatched_at < now() - least(grace * power(2, greatest(j.dispatch_count - 1, 0)), interval '5 minutes')
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

comment on function private.retry_unanswered_ai_replies(interval, integer) is 'Sends the webhook again for visitor messages still owed an answer (backoff from grace, doubling); marks the rest answered, superseded, ai_disabled, handed_off, or failed after max_dispatches (posting the fallback text). Returns how many webhooks it sent.';

select cron.schedule(
  'retry-unanswered-ai-replies',
  '5 seconds',
  $$select private.retry_unanswered_ai_replies()$$
);
