-- Imitates pg_net 0.19's SQL API (supabase/pg_net sql/pg_net.sql): net.http_post queues a
-- request in net.http_request_queue; the worker sends it only after the transaction
-- commits (a rollback sends nothing) and records the outcome in net._http_response.
-- Here the worker is local/pg-net-worker.ts, woken by NOTIFY, which Postgres delivers
-- only on commit, just like the real worker only sees committed queue rows.
create schema if not exists net;

create domain net.http_method as text check (value ilike 'get' or value ilike 'post' or value ilike 'delete');

-- Unlogged like the real ones: a crash can lose queued requests and responses.
create unlogged table net.http_request_queue (
  id bigserial,
  method net.http_method not null,
  url text not null,
  headers jsonb not null,
  body bytea,
  timeout_milliseconds int not null
);

create unlogged table net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out bool,
  error_msg text,
  created timestamptz not null default now()
);
create index on net._http_response (created);

-- The real net.wake() sets the worker's latch; NOTIFY is the closest a Node worker gets.
create function net.wake() returns void language sql as $$ select pg_notify('pg_net_wake', '') $$;

-- Percent-encodes like curl_easy_escape: everything but ALPHA, DIGIT and -._~
create function net._urlencode_string(string varchar) returns text
language sql immutable strict as $$
  select coalesce(string_agg(
    case when ch ~ '^[A-Za-z0-9._~-]$' then ch
    else upper(regexp_replace(encode(convert_to(ch, 'UTF8'), 'hex'), '(..)', '%\1', 'g')) end,
    '' order by i), '')
  from regexp_split_to_table(string, '') with ordinality as t(ch, i)
$$;

create function net._encode_url_with_params(url text, params jsonb) returns text
language sql immutable as $$
  select case when params is null or params = '{}'::jsonb then url
  else url || case when position('?' in url) > 0 then '&' else '?' end || (
    select string_agg(net._urlencode_string(key) || '=' || net._urlencode_string(value), '&')
    from jsonb_each_text(params)
  ) end
$$;

create function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds int default 5000
) returns bigint volatile parallel safe language plpgsql as $$
declare
  request_id bigint;
  content_type text;
begin
  select header_value into content_type
  from jsonb_each_text(coalesce(headers, '{}'::jsonb)) r(header_name, header_value)
  where lower(header_name) = 'content-type'
  limit 1;

  if content_type is null then
    headers := coalesce(headers, '{}'::jsonb) || '{"Content-Type": "application/json"}'::jsonb;
  end if;

  if content_type <> 'application/json' then
    raise exception 'Content-Type header must be "application/json"';
  end if;

  if body is null then
    raise exception 'body must not be null';
  end if;

  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values ('POST', net._encode_url_with_params(url, params), headers, convert_to(body::text, 'UTF8'), timeout_milliseconds)
  returning id into request_id;

  perform net.wake();
  return request_id;
end
$$;

create function net.http_get(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000
) returns bigint volatile parallel safe language plpgsql as $$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, timeout_milliseconds)
  values ('GET', net._encode_url_with_params(url, params), headers, timeout_milliseconds)
  returning id into request_id;
  perform net.wake();
  return request_id;
end
$$;

-- As upstream (supabase/pg_net sql/pg_net.sql) and supabase/postgres
-- 20250220051611_pg_net_perms_fix.sql: every role may use net, its tables and its functions,
-- so the queue's headers (a webhook's Authorization) are readable by any role with SQL access.
grant usage on schema net to public;
grant all on all sequences in schema net to public;
grant all on all tables in schema net to public;
grant execute on all functions in schema net to public;
