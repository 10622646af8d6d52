-- Presence, decided in SQL so that the dispatch trigger can read it: an agent's dashboard calls
-- public.agent_heartbeat() every 30 s or so while it is open (and public.agent_away() when it
-- closes); a member is online while their last heartbeat is within the project's
-- agent_online_window_seconds (default 60), and, when the project has opening hours, only
-- during them (in the project's ai_time_zone): outside them every agent counts as away.
--
-- Security definer functions in this migration (each bypasses RLS on purpose):
--   public.agent_heartbeat(project_id), public.agent_away(project_id): set the caller's own
--     last_seen_at to now() or null, which no API role may write directly (a member who could
--     set it to next year would keep the AI silent for good).
--   private.set_agent_presence(project, seen): their shared body; callable by no API role.
--   private.agents_online(project): reads every member's heartbeat and the project's settings;
--     called by the dispatch trigger and by the function's SQL API (service_role).

-- ============================================================================
-- Settings (Table Editor; admins through the API)
-- ============================================================================
alter table public.projects
  add column agent_online_window_seconds integer not null default 60
    check (agent_online_window_seconds between 10 and 3600),
  add column opening_hours_start time,
  add column opening_hours_end time,
  add column opening_days smallint[] not null default '{1,2,3,4,5,6,7}'
    check (opening_days <@ '{1,2,3,4,5,6,7}'::smallint[]),
  add constraint projects_opening_hours_both_or_neither
    check ((opening_hours_start is null) = (opening_hours_end is null));

comment on column public.projects.agent_online_window_seconds is 'An agent is online while their dashboard''s last heartbeat (project_members.last_seen_at) is at most this many seconds old (10 to 3600; dashboards beat every 30 s).';
comment on column public.projects.opening_hours_start is 'Opening hours, local time in ai_time_zone (e.g. 09:00); outside them every agent counts as away. null (with opening_hours_end): no opening hours.';
comment on column public.projects.opening_hours_end is 'End of the opening hours, local time in ai_time_zone; earlier than opening_hours_start for hours that span midnight (22:00 to 06:00).';
comment on column public.projects.opening_days is 'Days the opening hours apply, ISO numbers (1 Monday to 7 Sunday), in ai_time_zone; hours spanning midnight belong to the day they start.';

grant update (agent_online_window_seconds, opening_hours_start, opening_hours_end, opening_days)
  on public.projects to authenticated;

-- ============================================================================
-- Deciding presence
-- ============================================================================
create function private.within_opening_hours(project public.projects, moment timestamptz default now())
returns boolean
language sql
stable
set search_path = ''
as $$
  select case
    when project.opening_hours_start is null then true
    when project.opening_hours_start < project.opening_hours_end then
      l.ts::time >= project.opening_hours_start and l.ts::time < project.opening_hours_end
      and extract(isodow from l.ts)::smallint = any (project.opening_days)
    -- Spanning midnight (or equal: all day): the hours after midnight belong to the day before.
    when l.ts::time >= project.opening_hours_start then
      extract(isodow from l.ts)::smallint = any (project.opening_days)
    else
      l.ts::time < project.opening_hours_end
      and extract(isodow from l.ts - interval '1 day')::smallint = any (project.opening_days)
  end
  from (select within_opening_hours.moment at time zone project.ai_time_zone as ts) l
$$;
revoke execute on function private.within_opening_hours(public.projects, timestamptz) from public;

comment on function private.within_opening_hours(public.projects, timestamptz) is 'Whether moment (default now) falls in the project''s opening hours, in its ai_time_zone; true when it has none.';

create function private.agents_online(project uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((
    select private.within_opening_hours(p)
      and exists (
        select 1 from public.project_members m
        where m.project_id = p.id
          and m.last_seen_at > now() - make_interval(secs => p.agent_online_window_seconds)
      )
    from public.projects p
    where p.id = agents_online.project
  ), false)
$$;
revoke execute on function private.agents_online(uuid) from public;
grant execute on function private.agents_online(uuid) to service_role;

comment on function private.agents_online(uuid) is 'Whether at least one member of the project is online now: a heartbeat within agent_online_window_seconds, during its opening hours (if any).';

-- ============================================================================
-- Heartbeats (RPC)
-- ============================================================================
create function private.set_agent_presence(project uuid, seen timestamptz)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  touched integer;
begin
  if auth.uid() is null or (auth.jwt() ->> 'is_anonymous')::boolean is true then
    raise exception using errcode = '42501', message = 'Only signed-in agents have a presence',
      detail = 'Visitors (anonymous sessions) are never project members.';
  end if;
  update public.project_members m
  set last_seen_at = seen
  where m.user_id = auth.uid() and (project is null or m.project_id = project);
  get diagnostics touched = row_count;
  if touched = 0 then
    raise exception using errcode = '42501',
      message = case when project is null then 'You are not a member of any project'
                     else format('You are not a member of project %s', project) end;
  end if;
  return touched;
end;
$$;
revoke execute on function private.set_agent_presence(uuid, timestamptz) from public;

create function public.agent_heartbeat(project_id uuid default null)
returns integer
language sql
security definer
set search_path = ''
as $$
  select private.set_agent_presence(agent_heartbeat.project_id, now())
$$;

create function public.agent_away(project_id uuid default null)
returns integer
language sql
security definer
set search_path = ''
as $$
  select private.set_agent_presence(agent_away.project_id, null)
$$;

comment on function public.agent_heartbeat(uuid) is 'For agents'' dashboards, every 30 s or so while open: marks the caller online in one project, or in all their projects (project_id null). Returns how many memberships it touched; 42501 (HTTP 403) for visitors and non-members.';
comment on function public.agent_away(uuid) is 'For agents'' dashboards when they close or the agent steps away: marks the caller offline at once in one project or all of them (rather than after the online window).';

revoke execute on function public.agent_heartbeat(uuid), public.agent_away(uuid) from public, anon;
grant execute on function public.agent_heartbeat(uuid), public.agent_away(uuid) to authenticated;
