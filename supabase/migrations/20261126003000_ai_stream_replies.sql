-- Streamed replies, a project setting: projects.ai_stream_replies (on by default) tells the
-- ai-responder function to ask Groq for a stream and to publish the reply's text as it grows
-- (Broadcast events `preview` on the conversation's private topic; see the next migration),
-- before it posts the reply row. Off: the function asks for the whole completion, as before,
-- and publishes no text, only the typing indicator.
-- ai_reply_context returns the setting (project.stream_replies) from its next definition, in
-- 20261126004100_knowledge_retrieval.sql (these migrations are applied together).
-- No security definer function in this migration.

alter table public.projects
  add column ai_stream_replies boolean not null default true;

-- Admins change their projects' settings column by column (RLS decides whose projects).
grant update (ai_stream_replies) on public.projects to authenticated;

comment on column public.projects.ai_stream_replies is 'Show AI replies as they are written: the widget shows the text growing (Realtime Broadcast on the conversation''s private channel) and then the reply row. false: the reply appears whole when it is ready. The typing indicator shows either way.';
