-- The customer's own knowledge: public.knowledge_articles holds a project's help content
-- (admins add and edit rows in the Table Editor, or import a folder with `npm run kb:import`),
-- and a trigger keeps private.knowledge_passages current: each enabled article split into
-- passages of about 800 bytes, searched with PostgreSQL full-text search (a generated
-- tsvector, title weighted A and text B, in a GIN index). Retrieval itself is the next
-- migration.
--
-- Why passages of ~800 bytes, cut at headings, then paragraphs: a help article answers many
-- questions, and the prompt has room for a few sources only (ai_knowledge_max_tokens, 2,000
-- bytes by default); a heading starts a topic, so a passage never straddles two, and ~800
-- bytes (150 words or so) holds a complete answer while several still fit the budget. Each
-- passage carries its article's title (and its heading), so it matches on the title and the
-- model knows what it is about. A paragraph longer than a passage is cut at a space.
--
-- Why private.knowledge_passages: passages are derived from the articles and rewritten by the
-- trigger, so nobody should edit them; in the private schema the Data API never exposes them,
-- whatever grants are added later. Jobs record which passages a reply used (ai_reply_jobs).
--
-- The text-search configuration is per project (projects.knowledge_ts_config, default
-- 'english': its stemming and stop words matter because the question's words are OR-ed, and
-- with 'simple' every passage containing "the" or "how" would match). Set it to the language
-- of the project's articles ('german', 'french', 'spanish', ...; 'simple' for a mix).
--
-- Security definer functions in this migration (each bypasses RLS on purpose):
--   private.sync_knowledge_passages(): trigger on articles, which the importer (service_role)
--     writes; writes private passages, which no API role may.
--   private.sync_knowledge_ts_config(): trigger on projects; rewrites the project's passages.

create extension if not exists btree_gin with schema extensions;

-- ============================================================================
-- The setting
-- ============================================================================
alter table public.projects
  add column knowledge_ts_config regconfig not null default 'english';

comment on column public.projects.knowledge_ts_config is 'PostgreSQL text-search configuration for the knowledge base: the language of the articles (english, german, french, spanish, ...; simple for no stemming). Changing it re-indexes the project''s passages.';

-- ============================================================================
-- Articles (Table Editor; the importer through the Data API with the secret key)
-- ============================================================================
create table public.knowledge_articles (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  title text not null check (char_length(title) between 1 and 500),
  url text check (url ~ '^https?://' and char_length(url) <= 2000),
  content text not null check (char_length(content) between 1 and 1000000),
  enabled boolean not null default true,
  source_path text check (char_length(source_path) between 1 and 1000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint knowledge_articles_one_per_source unique (project_id, source_path)
);
alter table public.knowledge_articles enable row level security;

comment on table public.knowledge_articles is 'The project''s help content the AI answers from (FAQ, help articles). Add and edit rows here, or import a folder (npm run kb:import). Long articles are split into passages for search automatically.';
comment on column public.knowledge_articles.title is 'Shown to the model with each passage (and searched with more weight than the text).';
comment on column public.knowledge_articles.url is 'Where visitors can read the article; the AI cites it. Optional (http or https).';
comment on column public.knowledge_articles.content is 'The article as plain text or Markdown: headings (# ...) and blank lines separate passages.';
comment on column public.knowledge_articles.enabled is 'false keeps the article out of the AI''s answers without deleting it.';
comment on column public.knowledge_articles.source_path is 'Set by the importer: the file it came from, relative to the imported folder (re-imports update or remove it). null for rows added by hand.';

-- The importer (the secret key: service_role) reads, adds, updates and removes a project's
-- articles; nobody else through the API. New tables keep TRUNCATE and friends: take all away.
revoke all on public.knowledge_articles from anon, authenticated, service_role;
grant select (id, project_id, source_path, title, url, content) on public.knowledge_articles to service_role;
grant insert (project_id, source_path, title, url, content) on public.knowledge_articles to service_role;
grant update (title, url, content) on public.knowledge_articles to service_role;
grant delete on public.knowledge_articles to service_role;

create function private.touch_knowledge_article()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
revoke execute on function private.touch_knowledge_article() from public;

create trigger touch_knowledge_article
  before update on public.knowledge_articles
  for each row execute function private.touch_knowledge_article();

-- ============================================================================
-- Passages
-- ============================================================================
create table private.knowledge_passages (
  id uuid primary key default gen_random_uuid(),
  article_id uuid not null references public.knowledge_articles (id) on delete cascade,
  project_id uuid not null references public.projects (id) on delete cascade,
  ordinal integer not null,
  title text not null,
  url text,
  body text not null,
  ts_config regconfig not null,
  search_vector tsvector generated always as (
    setweight(to_tsvector(ts_config, title), 'A') || setweight(to_tsvector(ts_config, body), 'B')
  ) stored,
  unique (article_id, ordinal)
);
alter table private.knowledge_passages enable row level security;
revoke all on private.knowledge_passages from anon, authenticated, service_role;

-- "This project's passages matching the question": project and words in one GIN index.
create index knowledge_passages_search_idx on private.knowledge_passages using gin (project_id, search_vector);

comment on table private.knowledge_passages is 'The enabled knowledge articles split into passages for search, kept current by a trigger (do not edit). ai_reply_jobs.knowledge_passage_ids points here.';

-- The passages of one article's text: a heading line (# to ######) starts a new passage and
-- becomes its heading; paragraphs (blank-line separated) are gathered up to target_bytes; a
-- longer paragraph is cut at its last space before the size.
create function private.split_knowledge(content text, target_bytes integer default 800)
returns table (ordinal integer, heading text, body text)
language plpgsql
immutable
set search_path = ''
as $$
declare
  block text;
  piece text;
  cut integer;
  current_heading text;
  chunk text := '';
  bodies text[] := '{}';
  headings text[] := '{}';
begin
  for block in
    select b from regexp_split_to_table(
      regexp_replace(replace(content, E'\r\n', E'\n'), '^(#{1,6}[ \t][^\n]*)$', E'\n\\1\n', 'gn'),
      E'\n[ \t]*\n') as b
  loop
    block := btrim(block, E' \t\n');
    continue when block = '';
    if block ~ '^#{1,6}[ \t]' then
      if chunk <> '' then
        bodies := bodies || chunk; headings := headings || current_heading; chunk := '';
      end if;
      current_heading := nullif(btrim(regexp_replace(block, '^#{1,6}[ \t]+', ''), E' \t#'), '');
      continue;
    end if;
    if chunk <> '' and octet_length(chunk) + 2 + octet_length(block) > target_bytes then
      bodies := bodies || chunk; headings := headings || current_heading; chunk := '';
    end if;
    while octet_length(block) > target_bytes loop
      piece := private.cut_to_bytes(block, target_bytes);
      cut := length(piece) - strpos(reverse(piece), ' ') + 1;
      -- No space in the second half: cut mid-word rather than make a tiny passage.
      if strpos(reverse(piece), ' ') = 0 or cut < length(piece) / 2 then cut := length(piece); end if;
      bodies := bodies || rtrim(left(block, cut)); headings := headings || current_heading;
      block := ltrim(substr(block, cut + 1));
    end loop;
    if block <> '' then
      chunk := case when chunk = '' then block else chunk || E'\n\n' || block end;
    end if;
  end loop;
  if chunk <> '' then
    bodies := bodies || chunk; headings := headings || current_heading;
  end if;
  return query select s.n::integer, headings[s.n], s.body
    from unnest(bodies) with ordinality as s(body, n);
end;
$$;
revoke execute on function private.split_knowledge(text, integer) from public;

comment on function private.split_knowledge(text, integer) is 'Splits an article''s text into passages of about target_bytes: at headings, then between paragraphs, and long paragraphs at a space.';

-- Unchanged passages keep their ids (so jobs that cite them still resolve); changed ones are
-- replaced; a disabled article has none.
create function private.sync_knowledge_passages()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  config regconfig;
  bodies text[];
  headings text[];
begin
  if not new.enabled then
    delete from private.knowledge_passages p where p.article_id = new.id;
    return null;
  end if;
  select p.knowledge_ts_config into config from public.projects p where p.id = new.project_id;
  select coalesce(array_agg(s.body order by s.ordinal), '{}'), coalesce(array_agg(s.heading order by s.ordinal), '{}')
  into bodies, headings
  from private.split_knowledge(new.content) s;

  delete from private.knowledge_passages p
  where p.article_id = new.id and bodies[p.ordinal] is distinct from p.body;

  insert into private.knowledge_passages as p (article_id, project_id, ordinal, title, url, body, ts_config)
  select new.id, new.project_id, s.n::integer,
         case when s.heading is null then new.title else new.title || ': ' || s.heading end,
         new.url, s.body, config
  from unnest(bodies, headings) with ordinality as s(body, heading, n)
  on conflict (article_id, ordinal) do update
    set title = excluded.title, url = excluded.url, project_id = excluded.project_id, ts_config = excluded.ts_config
    where (p.title, p.url, p.project_id, p.ts_config) is distinct from
          (excluded.title, excluded.url, excluded.project_id, excluded.ts_config);
  return null;
end;
$$;
revoke execute on function private.sync_knowledge_passages() from public;

create trigger sync_knowledge_passages
  after insert or update of title, url, content, enabled, project_id on public.knowledge_articles
  for each row execute function private.sync_knowledge_passages();

create function private.sync_knowledge_ts_config()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update private.knowledge_passages p set ts_config = new.knowledge_ts_config where p.project_id = new.id;
  return null;
end;
$$;
revoke execute on function private.sync_knowledge_ts_config() from public;

create trigger sync_knowledge_ts_config
  after update of knowledge_ts_config on public.projects
  for each row when (old.knowledge_ts_config is distinct from new.knowledge_ts_config)
  execute function private.sync_knowledge_ts_config();
