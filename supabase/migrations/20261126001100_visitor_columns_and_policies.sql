-- What visitors may write and read, tightened:
--   - Visitors insert no ids and no timestamps: ids and created_at come from the defaults, so
--     an insert can no longer tell whether an id exists elsewhere (23505 / 23503).
--   - A project bound to its sites: projects.allowed_origins lists the origins (scheme, host
--     and port, as browsers send the Origin header) whose pages may start conversations in
--     it; empty means any origin. This stops another site from embedding the widget with
--     this project's id; it does not stop a script, which can send any Origin header it likes
--     (the per-visitor rate limits and the AI budget are what bound scripts).
--   - The messages select policy compares conversation_id with an array computed once per
--     statement, so PostgreSQL uses messages_conversation_latest_idx instead of evaluating
--     an exists per row over every customer's messages.
--
-- Security definer functions in this migration (each bypasses RLS on purpose):
--   private.project_accepts_origin(project): read by the conversations insert policy; reads
--     projects, which visitors cannot. Answers false for a project that does not exist.

-- ============================================================================
-- No ids, no timestamps from visitors
-- ============================================================================
revoke insert (id) on public.conversations from authenticated;
revoke insert (id) on public.messages from authenticated;

-- ============================================================================
-- Allowed origins
-- ============================================================================
alter table public.projects
  add column allowed_origins text[] not null default '{}';

comment on column public.projects.allowed_origins is 'Origins of the web pages allowed to start conversations in this project, e.g. {https://www.example.com}; empty: any origin. Set it so that another site cannot embed the widget with this project''s id. A script can still forge the Origin header: the rate limits and the AI budget bound scripts.';

create function private.project_accepts_origin(project uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((
    select cardinality(p.allowed_origins) = 0
      or exists (
        select 1 from unnest(p.allowed_origins) allowed
        where lower(rtrim(allowed, '/')) =
          lower(nullif(current_setting('request.headers', true), '')::jsonb ->> 'origin')
      )
    from public.projects p
    where p.id = project
  ), false)
$$;
revoke execute on function private.project_accepts_origin(uuid) from public;
grant usage on schema private to authenticated;
grant execute on function private.project_accepts_origin(uuid) to authenticated;

comment on function private.project_accepts_origin(uuid) is 'Whether the current API request (PostgREST''s request.headers) comes from an origin the project allows; false for an unknown project.';

alter policy "visitors start conversations as themselves"
  on public.conversations
  with check (visitor_id = (select auth.uid()) and private.project_accepts_origin(project_id));

-- ============================================================================
-- Reading messages through the index
-- ============================================================================
alter policy "visitors read messages of their own conversations"
  on public.messages
  using (conversation_id = any (array(
    select c.id from public.conversations c where c.visitor_id = (select auth.uid())
  )));
