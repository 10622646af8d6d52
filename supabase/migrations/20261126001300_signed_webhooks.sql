-- Signed webhooks instead of a bearer secret, in the Standard Webhooks shape
-- (https://www.standardwebhooks.com, the scheme Svix and Stripe-like senders use):
--   webhook-id:        the visitor message's id (the same when the sweeper sends it again)
--   webhook-timestamp: seconds since the epoch, when the request was queued
--   webhook-signature: v1,<base64 of HMAC-SHA256(key, id || '.' || timestamp || '.' || body)>
-- The key is the Vault secret ai_responder_webhook_secret (its UTF-8 bytes; the function's
-- AI_RESPONDER_WEBHOOK_SECRET holds the same value) and the body is exactly the text pg_net
-- sends (net.http_post stores convert_to(body::text, 'UTF8')). The key itself is no longer in
-- any request, so it never sits in pg_net's queue, which every role can read on Supabase; a
-- signature read there is worth at most a replay of the same message within 5 minutes, which
-- the claim and the unique reply make harmless. The function refuses a signature older or
-- newer than 5 minutes, for another body, or for another id. The retry sweeper signs each
-- re-dispatch afresh (it calls this function).
--
-- Security definer functions in this migration: private.send_ai_reply_webhook (replaced; see
-- 20261126000200): reads Vault and calls net.http_post.

create or replace function private.send_ai_reply_webhook(message public.messages, reply_delay_ms integer)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  project_url text;
  webhook_secret text;
  payload jsonb;
  webhook_id text := message.id::text;
  sent_at text := floor(extract(epoch from clock_timestamp()))::bigint::text;
  request_id bigint;
begin
  select decrypted_secret into project_url from vault.decrypted_secrets where name = 'project_url';
  select decrypted_secret into webhook_secret from vault.decrypted_secrets where name = 'ai_responder_webhook_secret';

  if project_url is null or webhook_secret is null then
    raise warning 'ai-responder webhook not sent for message %: set the Vault secrets project_url and ai_responder_webhook_secret', message.id;
  else
    -- Never lose the visitor's message because of the webhook: a pg_net failure only warns.
    begin
      payload := jsonb_build_object(
        'type', 'INSERT', 'table', 'messages', 'schema', 'public',
        'record', to_jsonb(message), 'old_record', null
      );
      request_id := net.http_post(
        url := rtrim(project_url, '/') || '/functions/v1/ai-responder',
        body := payload,
        headers := jsonb_build_object(
          'Content-Type', 'application/json',
          'webhook-id', webhook_id,
          'webhook-timestamp', sent_at,
          'webhook-signature', 'v1,' || encode(extensions.hmac(
            convert_to(webhook_id || '.' || sent_at || '.' || payload::text, 'UTF8'),
            convert_to(webhook_secret, 'UTF8'),
            'sha256'
          ), 'base64'),
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
