import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDatabase, type TestDatabase } from "./test-database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await startTestDatabase();
});
afterAll(() => db?.stop());

describe("migrations on an empty database", () => {
  it("apply through the bootstrap, every one recorded like `supabase db push` does", async () => {
    const { rows } = await db.pool.query("select version from supabase_migrations.schema_migrations order by version");
    const files = (await readdir(join(import.meta.dirname, "..", "supabase", "migrations"))).sort();
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(rows.map((r) => r.version)).toEqual(files.map((file) => file.split("_")[0]));
  });

  it("schedule the retry sweeper with pg_cron every few seconds", async () => {
    const { rows } = await db.pool.query("select schedule, command, active from cron.job where jobname = 'retry-unanswered-ai-replies'");
    expect(rows).toEqual([{ schedule: "5 seconds", command: "select private.retry_unanswered_ai_replies()", active: true }]);
  });

  it("publish messages (and only messages) to supabase_realtime", async () => {
    const { rows } = await db.pool.query(
      "select schemaname, tablename from pg_publication_tables where pubname = 'supabase_realtime'",
    );
    expect(rows).toEqual([{ schemaname: "public", tablename: "messages" }]);
  });

  it("turn on row level security for every table in public", async () => {
    const { rows } = await db.pool.query(
      "select relname, relrowsecurity from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r' order by relname",
    );
    expect(rows).toEqual([
      { relname: "ai_reply_jobs", relrowsecurity: true },
      { relname: "conversations", relrowsecurity: true },
      { relname: "knowledge_articles", relrowsecurity: true },
      { relname: "messages", relrowsecurity: true },
      { relname: "project_members", relrowsecurity: true },
      { relname: "projects", relrowsecurity: true },
    ]);
  });

  it("give every security definer function an empty search_path", async () => {
    const { rows } = await db.pool.query(
      `select n.nspname || '.' || p.proname as name, p.proconfig
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where p.prosecdef and n.nspname in ('public', 'private')`,
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.proconfig, row.name).toContain("search_path=\"\"");
  });

  it("seed a demo project with the AI on", async () => {
    const { rows } = await db.pool.query("select name, ai_enabled from public.projects");
    expect(rows).toEqual([{ name: "Demo Bakery", ai_enabled: true }]);
  });

  it("document ai_enabled for admins in the Table Editor", async () => {
    const { rows } = await db.pool.query(
      "select col_description('public.projects'::regclass, attnum) as comment from pg_attribute where attrelid = 'public.projects'::regclass and attname = 'ai_enabled'",
    );
    expect(rows[0].comment).toMatch(/AI auto-responder switch/);
  });
});
