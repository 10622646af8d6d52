-- Agents and admins as real users: public.project_members says which signed-in users work on
-- which project, as 'agent' (reads and answers its conversations) or 'admin' (also changes its
-- AI settings through the API). The database owner adds members in the Table Editor, after
-- creating the user in Dashboard > Authentication > Add user (a confirmed email and password).
-- Visitors are never members: anonymous users (auth.users.is_anonymous) are refused by a
-- trigger, and every membership check also refuses a JWT whose is_anonymous claim is true,
-- so an anonymous session can never act as a member, whatever the table holds.
--
-- Security definer functions in this migration (each bypasses RLS on purpose):
--   private.member_project_ids(role): the caller's projects, for policies on every table
--     (reading project_members under RLS from its own policy would recurse).
--   private.refuse_anonymous_members(): trigger; reads auth.users, which no API role may.

create table public.project_members (
  project_id uuid not null references public.projects (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null default 'agent' check (role in ('agent', 'admin')),
  last_seen_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (project_id, user_id)
);
alter table public.project_members enable row level security;

-- "The caller's projects", for every membership check.
create index project_members_user_id_idx on public.project_members (user_id);

comment on table public.project_members is 'Who works on a project: signed-in users (never anonymous visitors) as agent (reads and answers its conversations) or admin (also changes its AI settings through the API). Add rows in the Table Editor after creating the user in Authentication > Add user.';
comment on column public.project_members.role is 'agent: reads the project''s conversations, writes in them (taking them over), hands them back to the AI. admin: the same, and updates the project''s AI settings through the API.';
comment on column public.project_members.last_seen_at is 'Last heartbeat of this member''s dashboard (public.agent_heartbeat); the member is online while it is within projects.agent_online_window_seconds. Set by the API only through agent_heartbeat and agent_away.';

-- ============================================================================
-- Visitors are never members
-- ============================================================================
create function private.refuse_anonymous_members()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if exists (select 1 from auth.users u where u.id = new.user_id and u.is_anonymous) then
    raise exception using
      errcode = '23514',
      message = 'An anonymous user (a visitor) cannot be a project member',
      detail = format('User %s signed in anonymously; create agents in Authentication > Add user.', new.user_id);
  end if;
  return new;
end;
$$;
revoke execute on function private.refuse_anonymous_members() from public;

create trigger refuse_anonymous_members
  before insert or update of user_id on public.project_members
  for each row execute function private.refuse_anonymous_members();

-- ============================================================================
-- The caller's projects, for policies and the agents' functions
-- ============================================================================
-- role null: every membership; 'admin': admin memberships only. Empty for anonymous JWTs.
create function private.member_project_ids(role text default null)
returns uuid[]
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(m.project_id), '{}')
  from public.project_members m
  where m.user_id = (select auth.uid())
    and (member_project_ids.role is null or m.role = member_project_ids.role)
    and ((select auth.jwt()) ->> 'is_anonymous')::boolean is not true
$$;
revoke execute on function private.member_project_ids(text) from public;
grant execute on function private.member_project_ids(text) to authenticated;

comment on function private.member_project_ids(text) is 'The projects the caller (auth.uid()) is a member of, all roles or only role (admin); empty for anonymous sessions. For policies: project_id = any ((select private.member_project_ids())::uuid[]).';

-- ============================================================================
-- Members see who else works on their projects (and whether they are online)
-- ============================================================================
-- New tables keep REFERENCES, TRIGGER, TRUNCATE and MAINTAIN for the API roles (changelog
-- 45329), and TRUNCATE ignores RLS: take everything away, then grant what members need.
revoke all on public.project_members from anon, authenticated, service_role;
grant select on public.project_members to authenticated;

create policy "members read the memberships of their projects"
  on public.project_members for select to authenticated
  using (project_id = any ((select private.member_project_ids())::uuid[]));

create policy "visitors never read memberships"
  on public.project_members as restrictive for select to authenticated
  using (((select auth.jwt()) ->> 'is_anonymous')::boolean is not true);
