-- Imitates pg_cron 1.6's SQL API (citusdata/pg_cron): jobs live in cron.job and each run
-- is logged in cron.job_run_details. Here local/cron-runner.ts runs the active jobs on
-- their schedule ('N seconds', or a five-field cron expression) as the job's user.
create schema if not exists cron;

create table cron.job (
  jobid bigserial primary key,
  schedule text not null,
  command text not null,
  nodename text not null default 'localhost',
  nodeport int not null default 5432,
  database text not null default current_database(),
  username text not null default current_user,
  active boolean not null default true,
  jobname text,
  unique (jobname, username)
);

create table cron.job_run_details (
  jobid bigint,
  runid bigserial primary key,
  job_pid integer,
  database text,
  username text,
  command text,
  status text,
  return_message text,
  start_time timestamptz,
  end_time timestamptz
);

-- Jobs belong to, and run as, the role that scheduled them (pg_cron: username default
-- current_user); the C functions write cron.job whatever the caller's grants, as these
-- security definer functions do. current_setting('role') is the caller's SET ROLE, if any.
create function cron._caller() returns text language sql stable as $$
  select coalesce(nullif(current_setting('role'), 'none'), session_user)::text
$$;

create function cron.schedule(job_name text, schedule text, command text) returns bigint
language sql security definer set search_path = '' as $$
  insert into cron.job (jobname, schedule, command, username)
  values (job_name, schedule, command, cron._caller())
  on conflict (jobname, username) do update set schedule = excluded.schedule, command = excluded.command, active = true
  returning jobid
$$;

create function cron.schedule(schedule text, command text) returns bigint
language sql security definer set search_path = '' as $$
  insert into cron.job (schedule, command, username) values (schedule, command, cron._caller()) returning jobid
$$;

create function cron.unschedule(job_name text) returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  delete from cron.job where jobname = job_name and username = cron._caller();
  if not found then
    raise exception 'could not find valid entry for job ''%''', job_name;
  end if;
  return true;
end
$$;

create function cron.unschedule(job_id bigint) returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  delete from cron.job where jobid = job_id and username = cron._caller();
  if not found then
    raise exception 'could not find valid entry for job %', job_id;
  end if;
  return true;
end
$$;

-- Upstream pg_cron: each role sees its own jobs and runs.
alter table cron.job enable row level security;
create policy cron_job_policy on cron.job using (username = current_user);
alter table cron.job_run_details enable row level security;
create policy cron_job_run_details_policy on cron.job_run_details using (username = current_user);
grant select on cron.job to public;
grant select, delete on cron.job_run_details to public;

-- What supabase/postgres's pg_cron after-create script and
-- 20260730000000_revoke_trigger_on_cron_tables_from_postgres.sql give postgres.
grant usage on schema cron to postgres with grant option;
grant all on all tables in schema cron to postgres with grant option;
grant all on all sequences in schema cron to postgres with grant option;
grant all on all functions in schema cron to postgres with grant option;
revoke all on table cron.job from postgres;
grant select on table cron.job to postgres with grant option;
revoke trigger on cron.job_run_details from postgres;
