-- What a new Supabase project's database already has before the first migration runs,
-- rebuilt for the Docker-free local stack. Applied once to an empty database, as the
-- superuser, before supabase/migrations. Each section names what it imitates.
-- pg_net and pg_cron are not here: the migrations enable them with `create extension`,
-- which runs the stand-ins in local/extensions/ (installed by local/database.ts).

-- ============================================================================
-- Roles (imitates supabase/postgres init-scripts 00000000000000-initial-schema.sql)
-- ============================================================================
create role anon nologin noinherit;
create role authenticated nologin noinherit;
create role service_role nologin noinherit bypassrls;
-- PostgREST logs in as authenticator and switches to the role named by the JWT.
create role authenticator login noinherit password 'local-authenticator';
grant anon, authenticated, service_role to authenticator;

create schema if not exists extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;

-- Supabase grants everything in public to the API roles by default: RLS, not grants,
-- is what keeps visitors apart. Migrations that rely on grants must revoke them.
grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to postgres, anon, authenticated, service_role;

-- ============================================================================
-- auth (imitates GoTrue's schema: auth.users and the JWT helpers RLS policies use)
-- ============================================================================
create schema auth;
grant usage on schema auth to anon, authenticated, service_role;

create table auth.users (
  id uuid primary key default gen_random_uuid(),
  email text unique,
  is_anonymous boolean not null default false,
  role text not null default 'authenticated',
  raw_app_meta_data jsonb not null default '{}',
  raw_user_meta_data jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

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

create function auth.jwt() returns jsonb language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.jwt() to anon, authenticated, service_role;

-- ============================================================================
-- vault (imitates the supabase_vault extension's API; secrets are stored in plain
-- text here, where the real one encrypts them with a key outside the database)
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

revoke all on schema vault from public;
revoke all on all tables in schema vault from public;
revoke all on all functions in schema vault from public;

-- ============================================================================
-- Realtime (imitates the publication Supabase Realtime reads changes from)
-- ============================================================================
create publication supabase_realtime;

-- ============================================================================
-- Migration history (imitates the table the Supabase CLI keeps for `db push`)
-- ============================================================================
create schema supabase_migrations;
create table supabase_migrations.schema_migrations (
  version text primary key,
  name text,
  statements text[]
);
