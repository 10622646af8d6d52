-- Local demo data for `npm start` (and `supabase db reset`): one project with the AI on.
-- The local stack sets the two Vault secrets the webhook needs (project_url and
-- ai_responder_webhook_secret) to its own gateway and secret; on a hosted project you
-- create them once by hand (see README).
insert into public.projects (id, name, ai_enabled, ai_system_prompt, ai_fallback_message)
values (
  '00000000-0000-4000-8000-000000000001',
  'Demo Bakery',
  true,
  'You answer visitors of Demo Bakery''s website: opening hours are 7:00 to 18:00, Tuesday to Sunday; we bake bread, pastries and cakes to order. Be brief and friendly. If you do not know, say that a person will follow up.',
  'Sorry, our assistant is unavailable right now. A member of our team will reply as soon as possible.'
)
on conflict (id) do nothing;
