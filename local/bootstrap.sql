-- What a new hosted Supabase project's database already has before the first migration runs,
-- rebuilt for the Docker-free local stack, as strict as hosted Supabase is today (2026-11).
-- Applied once to an empty cluster by its superuser, supabase_admin (as on Supabase), before
-- supabase/migrations, which local/database.ts then applies as postgres, the way
-- `supabase db push` does. Each section cites what it imitates:
--   [init]    supabase/postgres migrations/db/init-scripts/00000000000000-initial-schema.sql
--   [demote]  supabase/postgres migrations/db/migrations/10000000000000_demote-postgres.sql
--   [m:NAME]  supabase/postgres migrations/db/migrations/NAME.sql
--   [studio]  supabase/supabase packages/pg-meta/src/sql/studio/database/privileges.ts
--             (Data API change, changelog 45329: no default grants on new tables)
--   [auth]    supabase/auth migrations/; [realtime] supabase/realtime tenants/repo/migrations/
--   [vault]   supabase/vault sql/supabase_vault--0.3.0.sql + supabase/postgres after-create.sql
-- pg_net and pg_cron are not here: the migrations enable them with `create extension`, which
-- runs the stand-ins in local/extensions/ (trusted, so postgres may create them, as supautils
-- lets it on Supabase; their objects then belong to supabase_admin, as on Supabase).

-- ============================================================================
-- Roles [init], [demote], [m:20230201083204_grant_auth_roles_to_postgres],
-- [m:20230529180330_alter_api_roles_for_inherit], [m:20250605172253_grant_with_admin_to_postgres_16_and_above]
-- ============================================================================
-- postgres is what the dashboard, `supabase db push` and the SQL editor use: not a superuser,
-- but it bypasses RLS and may create roles and databases.
create role postgres login password 'postgres' nosuperuser createdb createrole replication bypassrls;
alter database postgres owner to postgres;

create role anon nologin inherit;
create role authenticated nologin inherit;
create role service_role nologin inherit bypassrls;
-- PostgREST logs in as authenticator and switches to the role named by the JWT.
create role authenticator login noinherit password 'local-authenticator';
grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres with admin option;
grant pg_monitor, pg_read_all_data, pg_signal_backend to postgres;
-- The platform services' own roles (Auth and Realtime log in as these on Supabase).
create role supabase_auth_admin login noinherit nocreaterole noreplication password 'local-auth-admin';
create role supabase_realtime_admin login noinherit createrole replication password 'local-realtime-admin';
grant anon, authenticated, service_role to supabase_realtime_admin;

-- Role settings [init], [m:20221028101028_set_authenticator_timeout],
-- [m:20231130133139_set_lock_timeout_to_authenticator_role]. PostgREST applies the
-- impersonated role's settings (statement_timeout) in each transaction; local/api-request.ts too.
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';
alter role postgres set search_path to "$user", public, extensions;

-- ============================================================================
-- Schemas and default privileges [init], [studio]
-- ============================================================================
-- PostgreSQL 15+: public belongs to pg_database_owner (postgres here) and PUBLIC keeps USAGE only.
grant usage on schema public to postgres, anon, authenticated, service_role;

create schema extensions authorization postgres;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
create extension pgcrypto with schema extensions;
create extension "uuid-ossp" with schema extensions;

-- [init] grants everything in public to the API roles by default...
alter default privileges for role postgres in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on sequences to postgres, anon, authenticated, service_role;
-- ...and [studio], since the Data API change (new projects since 2026-05-30, all since
-- 2026-10-30), takes it back: every table, function and sequence needs explicit grants. What
-- remains by default (REFERENCES, TRIGGER, TRUNCATE, MAINTAIN on tables, UPDATE on sequences)
-- remains here too.
alter default privileges for role postgres in schema public revoke select, insert, update, delete on tables from anon, authenticated, service_role;
alter default privileges for role postgres in schema public revoke execute on functions from anon, authenticated, service_role;
alter default privileges for role postgres in schema public revoke usage, select on sequences from anon, authenticated, service_role;
alter default privileges for role postgres in schema public revoke execute on functions from public;

-- ============================================================================
-- auth (GoTrue's schema: owned by supabase_admin, tables and functions by supabase_auth_admin)
-- [init], [m:20211115181400_update-auth-permissions], [m:20250421084701_revoke_admin_roles_from_postgres],
-- [auth] 20220224000811_update_auth_functions, 20220531120530_add_auth_jwt_function,
-- 20240612123726_enable_rls_update_grants. Only the columns this project and local/auth.ts use.
-- ============================================================================
create schema auth authorization supabase_admin;
grant usage on schema auth to anon, authenticated, service_role, postgres;
grant all on schema auth to supabase_auth_admin;
revoke create on schema auth from postgres;

set role supabase_auth_admin;

create table auth.users (
  instance_id uuid,
  id uuid primary key default gen_random_uuid(),
  aud varchar(255) default 'authenticated',
  role varchar(255) default 'authenticated',
  email varchar(255),
  -- [auth] 00_init_auth_schema (encrypted_password: a bcrypt hash, as GoTrue writes it and
  -- Authentication > Add user sets it; the token columns, which GoTrue writes as '' and cannot
  -- read back when NULL), 20210730183235_add_email_change_confirmed, 20220114185340_add_banned_until.
  encrypted_password varchar(255),
  confirmation_token varchar(255),
  recovery_token varchar(255),
  email_change_token_new varchar(255),
  email_change varchar(255),
  phone text,
  email_confirmed_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb default '{}',
  raw_user_meta_data jsonb default '{}',
  banned_until timestamptz,
  is_anonymous boolean not null default false,
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);
create unique index users_email_partial_key on auth.users (email) where email is not null;

create table auth.sessions (
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  aal text default 'aal1',
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  refreshed_at timestamp,
  user_agent text,
  ip inet
);

create table auth.refresh_tokens (
  instance_id uuid,
  id bigserial primary key,
  token varchar(255) unique,
  user_id varchar(255),
  revoked boolean default false,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  parent varchar(255),
  session_id uuid references auth.sessions (id) on delete cascade
);

alter table auth.users enable row level security;
alter table auth.sessions enable row level security;
alter table auth.refresh_tokens enable row level security;

-- Same bodies as GoTrue's: the claims PostgREST and Realtime put in request.jwt.claims.
create function auth.uid() returns uuid language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create function auth.role() returns text language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create function auth.email() returns text language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

create function auth.jwt() returns jsonb language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

reset role;
-- postgres may read and write auth's tables (not create in the schema); the API roles may not.
grant all on all tables in schema auth to postgres;
grant all on all sequences in schema auth to postgres;

-- ============================================================================
-- vault (the supabase_vault extension's API) [vault]. Secrets are stored in plain text here,
-- where the real one encrypts them with a key outside the database. postgres may create,
-- update, read and delete secrets through these; service_role's access is version-dependent
-- on Supabase, so it gets none here.
-- ============================================================================
create schema vault;

create table vault.secrets (
  id uuid primary key default gen_random_uuid(),
  name text unique,
  description text not null default '',
  secret text not null,
  key_id uuid,
  nonce bytea,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create view vault.decrypted_secrets as
  select id, name, description, secret, secret as decrypted_secret, key_id, nonce, created_at, updated_at
  from vault.secrets;

create function vault.create_secret(
  new_secret text, new_name text default null, new_description text default '', new_key_id uuid default null
) returns uuid language sql security definer set search_path = '' as $$
  insert into vault.secrets (secret, name, description, key_id)
  values (new_secret, new_name, new_description, new_key_id)
  returning id
$$;

create function vault.update_secret(
  secret_id uuid, new_secret text default null, new_name text default null,
  new_description text default null, new_key_id uuid default null
) returns void language sql security definer set search_path = '' as $$
  update vault.secrets set
    secret = coalesce(new_secret, secret),
    name = coalesce(new_name, name),
    description = coalesce(new_description, description),
    key_id = coalesce(new_key_id, key_id),
    updated_at = now()
  where id = secret_id
$$;

revoke all on all functions in schema vault from public;
grant usage on schema vault to postgres with grant option;
grant select, delete on vault.secrets, vault.decrypted_secrets to postgres with grant option;
grant execute on function vault.create_secret(text, text, text, uuid), vault.update_secret(uuid, text, text, text, uuid)
  to postgres with grant option;

-- ============================================================================
-- Realtime: the publication [init] (owned by postgres) and the realtime schema as the Realtime
-- service migrates it [realtime] 20241030150047, 20240919163303, 20260605120000, with
-- [m:20260506172403] for postgres's usage. realtime.messages is partitioned by day on
-- Supabase; a plain table here (the README's table of stand-ins says so).
-- ============================================================================
create publication supabase_realtime;
alter publication supabase_realtime owner to postgres;

create schema realtime authorization supabase_admin;
grant usage on schema realtime to postgres with grant option;
grant usage on schema realtime to anon, authenticated, service_role;
grant create, usage on schema realtime to supabase_realtime_admin;

set role supabase_realtime_admin;

create table realtime.messages (
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp not null default now(),
  inserted_at timestamp not null default now(),
  id uuid not null default gen_random_uuid(),
  binary_payload bytea,
  primary key (id, inserted_at),
  constraint messages_payload_exclusive check (payload is null or binary_payload is null)
);
alter table realtime.messages enable row level security;
create index messages_inserted_at_topic_index on realtime.messages (inserted_at desc, topic)
  where extension = 'broadcast' and private is true;

create function realtime.topic() returns text language sql stable as $$
  select nullif(current_setting('realtime.topic', true), '')::text;
$$;

create function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void language plpgsql as $$
declare
  generated_id uuid;
  final_payload jsonb;
begin
  begin
    generated_id := gen_random_uuid();
    if payload ? 'id' then
      final_payload := payload;
    else
      final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
    end if;
    execute format('set local realtime.topic to %L', topic);
    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (generated_id, final_payload, event, topic, private, 'broadcast');
  exception when others then
    raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
end;
$$;

create function realtime.broadcast_changes(
  topic_name text, event_name text, operation text, table_name text, table_schema text,
  new record, old record, level text default 'ROW'
) returns void language plpgsql as $$
declare
  row_data jsonb := '{}'::jsonb;
begin
  if level = 'STATEMENT' then
    raise exception 'function can only be triggered for each row, not for each statement';
  end if;
  if operation = 'INSERT' or operation = 'UPDATE' or operation = 'DELETE' then
    row_data := jsonb_build_object('old_record', old, 'record', new, 'operation', operation,
      'table', table_name, 'schema', table_schema);
    perform realtime.send(row_data, event_name, topic_name);
  else
    raise exception 'Unexpected operation type: %', operation;
  end if;
exception when others then
  raise exception 'Failed to process the row: %', sqlerrm;
end;
$$;

reset role;
grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;
grant execute on all functions in schema realtime to postgres, anon, authenticated, service_role;

-- ============================================================================
-- supautils policy_grants, for realtime.messages only: on Supabase, supautils'
-- `supautils.policy_grants = '{"postgres": [..., "realtime.messages", ...]}'` lets postgres
-- create, alter and drop policies on realtime.messages without owning it (supabase/supautils
-- README "Manage Policies"; supabase/postgres ansible/files/postgresql_config/supautils.conf).
-- Emulated by lending postgres the table for the length of its policy command: the loan is
-- transactional (a failed command rolls it back) and returned when the command ends.
-- ============================================================================
create function extensions.lend_realtime_messages_for_policies() returns event_trigger
language plpgsql security definer set search_path = '' as $$
begin
  if session_user::text = 'postgres' then
    execute 'alter table realtime.messages owner to ' || case tg_event when 'ddl_command_start' then 'postgres' else 'supabase_realtime_admin' end;
  end if;
end;
$$;
create event trigger lend_realtime_messages_for_policies on ddl_command_start
  when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY') execute function extensions.lend_realtime_messages_for_policies();
create event trigger return_realtime_messages_after_policies on ddl_command_end
  when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY') execute function extensions.lend_realtime_messages_for_policies();
