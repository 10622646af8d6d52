-- Local demo data for `npm start` (and `supabase db reset`): one project with the AI on while
-- no agent is online, and its agent.
-- The local stack sets the two Vault secrets the webhook needs (project_url and
-- ai_responder_webhook_secret) to its own gateway and secret; on a hosted project you
-- create them once by hand (see README).
insert into public.projects (id, name, ai_enabled, ai_mode, ai_system_prompt, ai_fallback_message)
values (
  '00000000-0000-4000-8000-000000000001',
  'Demo Bakery',
  true,
  'when_no_agent_online',
  'You answer visitors of Demo Bakery''s website: opening hours are 7:00 to 18:00, Tuesday to Sunday; we bake bread, pastries and cakes to order. Be brief and friendly. If you do not know, say that a person will follow up.',
  'Sorry, our assistant is unavailable right now. A member of our team will reply as soon as possible.'
)
on conflict (id) do nothing;

-- The demo's agent (npm start: /agent, /online, /offline): a user as Authentication > Add user
-- makes one (confirmed email, bcrypt password; local demo only, never on a hosted project),
-- admin of the demo project, whose AI answers only while no agent is online.
insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, is_anonymous, created_at, updated_at,
                        confirmation_token, recovery_token, email_change_token_new, email_change)
values (
  '00000000-0000-0000-0000-000000000000',
  '00000000-0000-4000-8000-00000000a9e1',
  'authenticated',
  'authenticated',
  'agent@demo-bakery.test',
  extensions.crypt('demo-agent-password', extensions.gen_salt('bf', 10)),
  now(),
  '{"provider": "email", "providers": ["email"]}',
  '{"name": "Alice (demo agent)"}',
  false,
  now(),
  now(),
  -- GoTrue cannot read these back as NULL (supabase/auth issue 1940): empty, as it writes them.
  '', '', '', ''
)
on conflict (id) do nothing;

insert into public.project_members (project_id, user_id, role)
values ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-00000000a9e1', 'admin')
on conflict (project_id, user_id) do nothing;
